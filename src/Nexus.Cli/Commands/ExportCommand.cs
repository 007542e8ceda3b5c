using System.CommandLine;
using Nexus.Model;
using Nexus.Model.Tokenization;
using Nexus.Training.Export;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus export</c>: writes a Nexus MoE as a standard Hugging Face MoE checkpoint (docs/export.md).</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var formats = string.Join(" or ", HfMoeFormat.All.Select(f => f.Name));
        var model = new Option<string>("--model") { Description = "Nexus MoE folder (config.json with model_type nexus_moe, safetensors weights, tokenizer).", Required = true };
        var format = new Option<string>("--format") { Description = $"Target architecture: {formats}.", Required = true };
        var output = new Option<string>("--out") { Description = "Folder to write (config.json, model.safetensors, tokenizer files); replaced as a whole if it exists.", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "dtype of the written weights: f32, f16 or bf16 (f32 reproduces the logits to float rounding; f16/bf16 round every weight once).", DefaultValueFactory = _ => "f32" };

        var requireHfTokenizer = new Option<bool>("--require-hf-tokenizer")
        {
            Description = $"Fail (exit code 2, nothing written) unless the model has a Hugging Face {HuggingFaceTokenizer.FileName}: " +
                          $"a model with only the byte tokenizer's {TokenizerFiles.NexusFileName} cannot be served by vLLM with text prompts.",
        };

        var command = new Command("export", "Write a Nexus MoE as a Qwen2-MoE or DeepSeek-MoE checkpoint that computes the same logits, for transformers and vLLM.")
        {
            model, format, output, dtype, requireHfTokenizer,
        };
        command.SetAction(parsed =>
        {
            if (parsed.GetValue(requireHfTokenizer)) RequireHfTokenizer(parsed.GetValue(model)!);
            var target = HfMoeFormat.Parse(parsed.GetValue(format)!);
            var weights = ModelWeights.ParseDtype(parsed.GetValue(dtype)!);
            var summary = HfExporter.Run(parsed.GetValue(model)!, target, parsed.GetValue(output)!, weights);
            var config = summary.Source;
            Console.WriteLine($"Exported {config.NumExperts} experts (top-{config.NumExpertsPerToken}, {config.RouterType} router) × " +
                              $"{config.NumHiddenLayers} layers as {summary.Format}: {summary.Tensors} tensors, {summary.Bytes:N0} bytes of " +
                              $"{parsed.GetValue(dtype)} weights in {summary.OutputDirectory}.");
            return CliHost.Success;
        });
        return command;
    }

    private static void RequireHfTokenizer(string modelDirectory)
    {
        if (!Directory.Exists(modelDirectory) || File.Exists(Path.Combine(modelDirectory, HuggingFaceTokenizer.FileName))) return; // a missing folder is the exporter's error
        var has = File.Exists(Path.Combine(modelDirectory, TokenizerFiles.NexusFileName)) ? $"only {TokenizerFiles.NexusFileName} (the byte tokenizer)" : "no tokenizer";
        throw new ArgumentException(
            $"--require-hf-tokenizer: the model has {has}, no {HuggingFaceTokenizer.FileName}, so vLLM and other Hugging Face tools cannot " +
            "turn text into its token ids; serve it with nexus serve (a NexusModel's spec.serving.runtime: builtin), or build it from a " +
            "seed imported from the Hugging Face Hub, whose tokenizer it keeps.");
    }
}
