using System.CommandLine;
using Nexus.Model;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus generate</c>: continues a prompt with a trained model, streaming text to stdout.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var defaults = new SamplingOptions();
        var model = new Option<string>("--model") { Description = "Model folder (config.json, safetensors weights, tokenizer).", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "Text to continue.", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to generate at most.", DefaultValueFactory = _ => defaults.MaxNewTokens };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature; 0 is greedy.", DefaultValueFactory = _ => defaults.Temperature };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass in (0, 1].", DefaultValueFactory = _ => defaults.TopP };
        var seed = new Option<long>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => defaults.Seed };
        var stop = new Option<string[]>("--stop") { Description = "Stop when the text contains this (repeatable)." };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch; 0: one per core.", DefaultValueFactory = _ => 0 };

        var command = new Command("generate", "Continue a prompt with a trained model (KV-cached decoding).")
        {
            model, prompt, maxTokens, temperature, topP, seed, stop, threads,
        };
        command.SetAction(parsed =>
        {
            var options = new SamplingOptions
            {
                MaxNewTokens = parsed.GetValue(maxTokens),
                Temperature = parsed.GetValue(temperature),
                TopP = parsed.GetValue(topP),
                Seed = parsed.GetValue(seed),
                Stop = parsed.GetValue(stop) ?? [],
            };
            options.Validate();
            var text = parsed.GetValue(prompt)!;
            if (text.Length == 0) throw new ArgumentException("--prompt is empty; give some text to continue.");
            CliHost.ConfigureThreads(parsed.GetValue(threads));

            var (loaded, tokenizer) = ModelCheckpoint.Load(parsed.GetValue(model)!);
            using var _ = loaded;
            loaded.PrepareForInference();
            Console.Write(text);
            new TextGenerator(loaded, tokenizer).Generate(text, options, chunk => Console.Write(chunk));
            Console.WriteLine();
            return CliHost.Success;
        });
        return command;
    }
}
