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
        var defaults = new TrainerOptions();
        var data = new Option<string[]>("--data") { Description = "Text files or folders of them (recursive) to train on.", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Run folder: checkpoints/, metrics.jsonl and the final model/ go here.", Required = true };
        var size = new Option<string>("--model-size") { Description = $"Architecture preset with the byte tokenizer: {string.Join(", ", LlamaConfig.PresetNames)}.", DefaultValueFactory = _ => "small" };
        var config = new Option<string?>("--config") { Description = "A Hugging Face config.json to use instead of --model-size." };
        var init = new Option<string?>("--init") { Description = "Start from this model folder (config, weights, tokenizer) instead of random weights." };
        var steps = new Option<long>("--steps") { Description = "Optimizer steps.", DefaultValueFactory = _ => defaults.Steps };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per micro-batch.", DefaultValueFactory = _ => defaults.BatchSize };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per sequence.", DefaultValueFactory = _ => defaults.SequenceLength };
        var accum = new Option<int>("--grad-accum") { Description = "Micro-batches per optimizer step (tokens/step = batch × seq-len × grad-accum).", DefaultValueFactory = _ => defaults.GradientAccumulation };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => defaults.LearningRate };
        var warmup = new Option<long>("--warmup") { Description = "Linear warm-up, in steps.", DefaultValueFactory = _ => defaults.WarmupSteps };
        var minLr = new Option<double>("--min-lr-ratio") { Description = "Cosine floor as a fraction of --lr.", DefaultValueFactory = _ => defaults.MinLearningRateRatio };
        var decay = new Option<double>("--weight-decay") { Description = "AdamW weight decay (not applied to norms).", DefaultValueFactory = _ => defaults.WeightDecay };
        var clip = new Option<double>("--clip") { Description = "Gradient-norm clip; 0 disables.", DefaultValueFactory = _ => defaults.GradientClip };
        var evalEvery = new Option<long>("--eval-every") { Description = "Steps between validation passes; 0: at the end only.", DefaultValueFactory = _ => defaults.EvalEvery };
        var evalTokens = new Option<long>("--eval-tokens") { Description = "Validation tokens per pass (at most).", DefaultValueFactory = _ => defaults.EvalTokens };
        var checkpointEvery = new Option<long>("--checkpoint-every") { Description = "Steps between checkpoints; 0: at the end only.", DefaultValueFactory = _ => defaults.CheckpointEvery };
        var keep = new Option<int>("--keep-checkpoints") { Description = "Checkpoints kept on disk.", DefaultValueFactory = _ => defaults.KeepCheckpoints };
        var valFraction = new Option<double>("--val-fraction") { Description = "Fraction of each file's tokens (its tail) held out for validation.", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<long>("--seed") { Description = "Seed for weights and batch order.", DefaultValueFactory = _ => defaults.Seed };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch; 0: one per core.", DefaultValueFactory = _ => 0 };
        var dtype = new Option<string>("--dtype") { Description = "dtype of the saved model weights: f32, f16 or bf16 (training is fp32).", DefaultValueFactory = _ => "f32" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --out if there is one." };
        var noSdpa = new Option<bool>("--no-sdpa") { Description = "Use explicit attention instead of scaled_dot_product_attention." };

        var command = new Command("train", "Train a dense Llama-style model on text (next-token prediction) and save it in Hugging Face layout.")
        {
            data, output, size, config, init, steps, batch, seqLen, accum, lr, warmup, minLr, decay, clip, evalEvery, evalTokens,
            checkpointEvery, keep, valFraction, seed, threads, dtype, resume, noSdpa,
        };
        command.SetAction(parsed =>
        {
            var options = new TrainerOptions
            {
                Steps = parsed.GetValue(steps),
                BatchSize = parsed.GetValue(batch),
                SequenceLength = parsed.GetValue(seqLen),
                GradientAccumulation = parsed.GetValue(accum),
                LearningRate = parsed.GetValue(lr),
                WarmupSteps = parsed.GetValue(warmup),
                MinLearningRateRatio = parsed.GetValue(minLr),
                WeightDecay = parsed.GetValue(decay),
                GradientClip = parsed.GetValue(clip),
                EvalEvery = parsed.GetValue(evalEvery),
                EvalTokens = parsed.GetValue(evalTokens),
                CheckpointEvery = parsed.GetValue(checkpointEvery),
                KeepCheckpoints = parsed.GetValue(keep),
                Seed = parsed.GetValue(seed),
            };
            options.Validate();
            var savedDtype = ModelWeights.ParseDtype(parsed.GetValue(dtype)!);
            var runDirectory = parsed.GetValue(output)!;
            CliHost.ConfigureThreads(parsed.GetValue(threads));

            var (model, tokenizer, writeTokenizer) = CreateModel(parsed.GetValue(init), parsed.GetValue(config), parsed.GetValue(size)!, options.Seed);
            using var _ = model;
            if (options.SequenceLength > model.Config.MaxPositionEmbeddings)
                throw new ArgumentException($"--seq-len {options.SequenceLength} exceeds the model's max_position_embeddings ({model.Config.MaxPositionEmbeddings}).");
            model.UseSdpa = !parsed.GetValue(noSdpa);

            var corpus = TokenCorpus.FromFiles(parsed.GetValue(data)!, tokenizer, parsed.GetValue(valFraction));
            Console.WriteLine($"Model: {model.Config.ParameterCount():N0} parameters ({model.Config.NumHiddenLayers} layers, hidden {model.Config.HiddenSize}). " +
                              $"Data: {corpus.Train.Length:N0} training and {corpus.Validation.Length:N0} validation tokens from {corpus.Sources.Count} file(s).");

            using var shutdown = new ShutdownSignal();
            var trainer = new Trainer(options, Console.WriteLine);
            var result = trainer.Run(model, corpus, runDirectory, parsed.GetValue(resume), ProgressReporter.ForConsole(options.Steps), shutdown.Token);

            var modelDirectory = Path.Combine(runDirectory, "model");
            LlamaCheckpoint.Save(model, modelDirectory, writeTokenizer, savedDtype);
            Console.WriteLine($"Trained {result.Steps} steps at {result.TokensPerSecond:N0} tokens/s: train loss {result.FinalTrainLoss:F4}, " +
                              $"validation loss {result.Validation.Loss:F4} (perplexity {result.Validation.Perplexity:F2}).");
            Console.WriteLine($"Model saved to {modelDirectory}");
            return CliHost.Success;
        });
        return command;
    }

    private static (LlamaForCausalLM Model, ITextTokenizer Tokenizer, Action<string> WriteTokenizer) CreateModel(
        string? init, string? configPath, string preset, long seed)
    {
        if (init is not null)
        {
            var (model, tokenizer) = LlamaCheckpoint.Load(init);
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
