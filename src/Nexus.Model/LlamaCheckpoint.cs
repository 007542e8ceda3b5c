using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;

namespace Nexus.Model;

/// <summary>
/// A model directory in Hugging Face's layout: config.json, model.safetensors (or shards with an index)
/// and the tokenizer files.
/// </summary>
public static class LlamaCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    public static LlamaForCausalLM LoadModel(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Model directory '{directory}' does not exist.");
        var config = LlamaConfig.Load(Path.Combine(directory, ConfigFile));
        var model = new LlamaForCausalLM(config);
        try
        {
            using var weights = SafetensorsCheckpoint.Open(directory);
            ModelWeights.Load(model, weights, config);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

    public static (LlamaForCausalLM Model, ITextTokenizer Tokenizer) Load(string directory) =>
        (LoadModel(directory), TokenizerFiles.Load(directory));

    /// <summary>Writes config, weights and tokenizer as one folder, swapped into place atomically.</summary>
    public static void Save(LlamaForCausalLM model, string directory, Action<string> writeTokenizer,
        SafetensorsDtype dtype = SafetensorsDtype.F32) =>
        AtomicDirectory.Write(directory, staging =>
        {
            model.Config.Save(Path.Combine(staging, ConfigFile));
            ModelWeights.Save(model, Path.Combine(staging, WeightsFile), dtype);
            writeTokenizer(staging);
        });
}
