using System.CommandLine;
using Nexus.Model;
using Nexus.Model.Tokenization;
using Nexus.Training;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus finetune</c>: trains an MoE (router, experts and all) on a weighted mix of domains, with the load-balancing loss.</summary>
public static class FinetuneCommand
{
    /// <summary>A finetune is short and gentle next to pre-training.</summary>
    public static readonly TrainerOptions Defaults = new()
    {
        Steps = 200, LearningRate = 1e-3, WarmupSteps = 20, EvalEvery = 0, CheckpointEvery = 50,
    };

    private const string MixDescription =
        "Domain weights: proportional (to training tokens), uniform, extension:NAME (half NAME, half the others, uniformly), or NAME=WEIGHT,… .";

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The MoE model folder to finetune (from `nexus upcycle`, `extend` or `remove`).", Required = true };
        var domains = new DomainOptionSet("A domain's text as NAME=PATH (repeat; repeat a name to add paths).");
        var mix = new Option<string>("--mix") { Description = MixDescription, DefaultValueFactory = _ => "proportional" };
        var output = new Option<string>("--out") { Description = "Run folder: checkpoints/, metrics.jsonl and the final model/ go here.", Required = true };
        var training = new TrainingOptionSet(Defaults);

        var command = new Command("finetune", "Finetune an MoE on a weighted mix of domains (cross-entropy + load-balancing loss); checkpoints and resumes like `train`.")
        {
            model, mix, output,
        };
        domains.AddTo(command);
        training.AddTo(command);
        command.SetAction(parsed =>
        {
            var source = parsed.GetValue(model)!;
            var tokenizer = TokenizerFiles.Load(source);
            var data = domains.Read(parsed, tokenizer);
            var weights = DomainMix.Parse(data, parsed.GetValue(mix)!);
            Run(source, weights, training, parsed, parsed.GetValue(output)!);
            return CliHost.Success;
        });
        return command;
    }

    /// <summary>The finetune itself, shared by <c>finetune</c>, <c>extend</c> and <c>remove</c>: returns the final model folder.</summary>
    public static string Run(string modelDirectory, DomainMix mix, TrainingOptionSet training, ParseResult parsed, string runDirectory)
    {
        var options = training.Read(parsed, mix.ToString());
        var dtype = ModelWeights.ParseDtype(training.Dtype(parsed));
        CliHost.ConfigureThreads(training.Threads(parsed));
        var model = ModelCheckpoint.LoadModel(modelDirectory);
        using var _ = model;
        if (model.Config is not NexusMoeConfig moe)
            throw new ArgumentException($"{modelDirectory} holds a dense model; finetune takes an MoE (use `nexus train --init` for a dense one).");
        if (options.SequenceLength > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"--seq-len {options.SequenceLength} exceeds the model's max_position_embeddings ({model.Config.MaxPositionEmbeddings}).");
        model.UseSdpa = training.UseSdpa(parsed);
        model.train();

        Console.WriteLine($"Finetuning {moe.NumExperts} experts ({moe.RouterType} router), {model.Config.ParameterCount():N0} parameters, " +
                          $"for {options.Steps} steps on {mix}.");
        using var shutdown = new ShutdownSignal();
        var trainer = new Trainer(options, Console.WriteLine);
        trainer.CheckpointSaved += _ => RemoteArtifacts.Current?.PublishOutputs();
        var result = trainer.Run(model, mix, runDirectory, training.Resume(parsed), ProgressReporter.ForConsole(options.Steps), shutdown.Token);

        var final = Path.Combine(runDirectory, "model");
        ModelCheckpoint.Save(model, final, target => TokenizerFiles.CopyTo(modelDirectory, target), dtype);
        Console.WriteLine($"Finetuned {result.Steps} steps at {result.TokensPerSecond:N0} tokens/s: train loss {result.FinalTrainLoss:F4}, " +
                          $"validation loss {result.Validation.Loss:F4} (perplexity {result.Validation.Perplexity:F2}).");
        Console.WriteLine($"Model saved to {final}");
        return final;
    }

    /// <summary>
    /// The optional short finetune that <c>extend</c> and <c>remove</c> run right after their surgery:
    /// <c>--steps</c> (0: none), the domains, the mix, and <c>--finetune-out</c> for its run folder.
    /// </summary>
    public sealed class FollowUp
    {
        private readonly TrainingOptionSet training;
        private readonly DomainOptionSet domains = new("A domain's text as NAME=PATH for the finetune after the surgery (repeat).", required: false);
        private readonly Option<string?> mix;
        private readonly Option<string?> runDirectory = new("--finetune-out") { Description = "Run folder of the finetune after the surgery: checkpoints/, metrics.jsonl, model/." };

        public FollowUp(string defaultMix)
        {
            training = new TrainingOptionSet(Defaults with { Steps = 0 }, "Finetune steps after the surgery; 0 (default) skips it.");
            mix = new Option<string?>("--mix") { Description = $"{MixDescription} Default: {defaultMix}." };
        }

        public void AddTo(Command command)
        {
            domains.AddTo(command);
            command.Options.Add(mix);
            command.Options.Add(runDirectory);
            training.AddTo(command);
        }

        /// <summary>Checks the finetune's options before the surgery runs, so a typo fails before minutes of work.</summary>
        public void Validate(ParseResult parsed)
        {
            if (training.Steps(parsed) == 0) return;
            if (!domains.Given(parsed)) throw new ArgumentException("--steps asks for a finetune after the surgery; give its data with --domain NAME=PATH.");
            if (parsed.GetValue(runDirectory) is null) throw new ArgumentException("--steps asks for a finetune after the surgery; give its run folder with --finetune-out.");
            training.Read(parsed);
        }

        /// <summary>Runs the finetune if --steps asked for one; returns the final model folder.</summary>
        public string RunIfAsked(ParseResult parsed, string modelDirectory, string defaultMix)
        {
            if (training.Steps(parsed) == 0) return modelDirectory;
            var data = domains.Read(parsed, TokenizerFiles.Load(modelDirectory));
            var weights = DomainMix.Parse(data, parsed.GetValue(mix) ?? defaultMix);
            return Run(modelDirectory, weights, training, parsed, parsed.GetValue(runDirectory)!);
        }
    }
}
