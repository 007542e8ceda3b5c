using System.CommandLine;
using Nexus.Model;
using Nexus.Model.Tokenization;
using Nexus.Training;
using TorchSharp;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus train</c>: trains a dense Llama on text files, from scratch or from a model directory.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string[]>("--data") { Description = "Text files or folders of them (recursive) to train on.", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Run folder: checkpoints/, metrics.jsonl and the final model/ go here.", Required = true };
        var size = new Option<string>("--model-size") { Description = $"Architecture preset with the byte tokenizer: {string.Join(", ", LlamaConfig.PresetNames)}.", DefaultValueFactory = _ => "small" };
        var config = new Option<string?>("--config") { Description = "A Hugging Face config.json to use instead of --model-size." };
        var init = new Option<string?>("--init") { Description = "Start from this model folder (config, weights, tokenizer) instead of random weights." };
        var training = new TrainingOptionSet(new TrainerOptions());
        var valFraction = new Option<double>("--val-fraction") { Description = "Fraction of each file's tokens (its tail) held out for validation.", DefaultValueFactory = _ => 0.1 };
        var command = new Command("train", "Train a dense Llama-style model on text (next-token prediction) and save it in Hugging Face layout.")
        {
            data, output, size, config, init, valFraction,
        };
        training.AddTo(command);
        command.SetAction(parsed =>
        {
            var options = training.Read(parsed);
            var savedDtype = ModelWeights.ParseDtype(training.Dtype(parsed));
            var runDirectory = parsed.GetValue(output)!;
            CliHost.ConfigureThreads(training.Threads(parsed));

            var (model, tokenizer, writeTokenizer) = CreateModel(parsed.GetValue(init), parsed.GetValue(config), parsed.GetValue(size)!, options.Seed);
            using var _ = model;
            if (options.SequenceLength > model.Config.MaxPositionEmbeddings)
                throw new ArgumentException($"--seq-len {options.SequenceLength} exceeds the model's max_position_embeddings ({model.Config.MaxPositionEmbeddings}).");
            model.UseSdpa = training.UseSdpa(parsed);

            var corpus = TokenCorpus.FromFiles(parsed.GetValue(data)!, tokenizer, parsed.GetValue(valFraction));
            Console.WriteLine($"Model: {model.Config.ParameterCount():N0} parameters ({model.Config.NumHiddenLayers} layers, hidden {model.Config.HiddenSize}). " +
                              $"Data: {corpus.Train.Length:N0} training and {corpus.Validation.Length:N0} validation tokens from {corpus.Sources.Count} file(s).");

            using var shutdown = new ShutdownSignal();
            var trainer = new Trainer(options, Console.WriteLine);
            trainer.CheckpointSaved += _ => RemoteArtifacts.Current?.PublishOutputs();
            var result = trainer.Run(model, corpus, runDirectory, training.Resume(parsed), ProgressReporter.ForConsole(options.Steps), shutdown.Token);

            var modelDirectory = Path.Combine(runDirectory, "model");
            ModelCheckpoint.Save(model, modelDirectory, writeTokenizer, savedDtype);
            Console.WriteLine($"Trained {result.Steps} steps at {result.TokensPerSecond:N0} tokens/s: train loss {result.FinalTrainLoss:F4}, " +
                              $"validation loss {result.Validation.Loss:F4} (perplexity {result.Validation.Perplexity:F2}).");
            Console.WriteLine($"Model saved to {modelDirectory}");
            return CliHost.Success;
        });
        return command;
    }

    private static (CausalLanguageModel Model, ITextTokenizer Tokenizer, Action<string> WriteTokenizer) CreateModel(
        string? init, string? configPath, string preset, long seed)
    {
        if (init is not null)
        {
            var (model, tokenizer) = ModelCheckpoint.Load(init);
            model.train();
            return (model, tokenizer, target => TokenizerFiles.CopyTo(init, target));
        }
        var config = configPath is not null ? LlamaConfig.Load(configPath) : LlamaConfig.Preset(preset);
        var byteTokenizer = new ByteTokenizer();
        if (config.VocabSize < byteTokenizer.VocabSize)
            throw new ArgumentException($"vocab_size {config.VocabSize} is smaller than the byte tokenizer's {byteTokenizer.VocabSize}.");
        torch.manual_seed(seed);
        var fresh = new LlamaForCausalLM(config);
        fresh.InitializeWeights(seed);
        return (fresh, byteTokenizer, TokenizerFiles.SaveByte);
    }
}
