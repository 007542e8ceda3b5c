using System.CommandLine;
using Nexus.Model.Tokenization;
using Nexus.Training;

namespace Nexus.Cli.Commands;

/// <summary>The training options every training step (train, finetune, extend, remove) takes, with one definition each.</summary>
public sealed class TrainingOptionSet
{
    private readonly Option<long> steps, warmup, evalEvery, evalTokens, checkpointEvery, seed;
    private readonly Option<int> batch, seqLen, accum, keep, threads;
    private readonly Option<double> lr, minLr, decay, clip;
    private readonly Option<string> dtype;
    private readonly Option<bool> resume, noSdpa;

    /// <param name="defaults">Step-specific defaults (a finetune runs shorter and gentler than pre-training).</param>
    public TrainingOptionSet(TrainerOptions defaults, string stepsDescription = "Optimizer steps.")
    {
        steps = new Option<long>("--steps") { Description = stepsDescription, DefaultValueFactory = _ => defaults.Steps };
        batch = new Option<int>("--batch-size") { Description = "Sequences per micro-batch.", DefaultValueFactory = _ => defaults.BatchSize };
        seqLen = new Option<int>("--seq-len") { Description = "Tokens per sequence.", DefaultValueFactory = _ => defaults.SequenceLength };
        accum = new Option<int>("--grad-accum") { Description = "Micro-batches per optimizer step (tokens/step = batch × seq-len × grad-accum).", DefaultValueFactory = _ => defaults.GradientAccumulation };
        lr = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => defaults.LearningRate };
        warmup = new Option<long>("--warmup") { Description = "Linear warm-up, in steps.", DefaultValueFactory = _ => defaults.WarmupSteps };
        minLr = new Option<double>("--min-lr-ratio") { Description = "Cosine floor as a fraction of --lr.", DefaultValueFactory = _ => defaults.MinLearningRateRatio };
        decay = new Option<double>("--weight-decay") { Description = "AdamW weight decay (not applied to norms).", DefaultValueFactory = _ => defaults.WeightDecay };
        clip = new Option<double>("--clip") { Description = "Gradient-norm clip; 0 disables.", DefaultValueFactory = _ => defaults.GradientClip };
        evalEvery = new Option<long>("--eval-every") { Description = "Steps between validation passes; 0: at the end only.", DefaultValueFactory = _ => defaults.EvalEvery };
        evalTokens = new Option<long>("--eval-tokens") { Description = "Validation tokens per pass (at most).", DefaultValueFactory = _ => defaults.EvalTokens };
        checkpointEvery = new Option<long>("--checkpoint-every") { Description = "Steps between checkpoints; 0: at the end only.", DefaultValueFactory = _ => defaults.CheckpointEvery };
        keep = new Option<int>("--keep-checkpoints") { Description = "Checkpoints kept on disk.", DefaultValueFactory = _ => defaults.KeepCheckpoints };
        seed = new Option<long>("--seed") { Description = "Seed for weights and batch order.", DefaultValueFactory = _ => defaults.Seed };
        threads = new Option<int>("--threads") { Description = "CPU threads for libtorch; 0: one per core.", DefaultValueFactory = _ => 0 };
        dtype = new Option<string>("--dtype") { Description = "dtype of the saved model weights: f32, f16 or bf16 (training is fp32).", DefaultValueFactory = _ => "f32" };
        resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --out if there is one." };
        noSdpa = new Option<bool>("--no-sdpa") { Description = "Use explicit attention instead of scaled_dot_product_attention." };
    }

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { steps, batch, seqLen, accum, lr, warmup, minLr, decay, clip, evalEvery, evalTokens, checkpointEvery, keep, seed, threads, dtype, resume, noSdpa })
            command.Options.Add(option);
    }

    public TrainerOptions Read(ParseResult parsed, string? mix = null)
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
            Mix = mix,
        };
        options.Validate();
        return options;
    }

    public long Steps(ParseResult parsed) => parsed.GetValue(steps);
    public long Seed(ParseResult parsed) => parsed.GetValue(seed);
    public int Threads(ParseResult parsed) => parsed.GetValue(threads);
    public string Dtype(ParseResult parsed) => parsed.GetValue(dtype)!;
    public bool Resume(ParseResult parsed) => parsed.GetValue(resume);
    public bool UseSdpa(ParseResult parsed) => !parsed.GetValue(noSdpa);
}

/// <summary>
/// <c>--domain NAME=PATH</c> (repeatable; PATH a text file or a folder of them, or a prepared dataset folder whose
/// domain NAME is read, or a domain's folder inside one; repeat a name to add paths)
/// and <c>--val-fraction</c>: the named domains a finetune mixes and an evaluation reports on.
/// </summary>
public sealed class DomainOptionSet
{
    private readonly Option<string[]> domains;
    private readonly Option<double> validationFraction;

    public DomainOptionSet(string description, bool required = true)
    {
        domains = new Option<string[]>("--domain") { Description = description, Required = required, AllowMultipleArgumentsPerToken = false };
        validationFraction = new Option<double>("--val-fraction")
        {
            Description = "Fraction of each text file's tokens (its tail) held out for validation; use the value the experts were trained with. Prepared datasets keep their own split.",
            DefaultValueFactory = _ => 0.1,
        };
    }

    public void AddTo(Command command)
    {
        command.Options.Add(domains);
        command.Options.Add(validationFraction);
    }

    public bool Given(ParseResult parsed) => (parsed.GetValue(domains) ?? []).Length > 0;

    public IReadOnlyList<Domain> Read(ParseResult parsed, ITextTokenizer tokenizer) =>
        ParseNamedPaths(parsed.GetValue(domains) ?? [], "--domain")
            .Select(d => new Domain(d.Name, TokenCorpus.FromFiles(d.Paths, tokenizer, parsed.GetValue(validationFraction), d.Name)))
            .ToList();

    /// <summary>NAME=PATH arguments grouped by name, in first-seen order.</summary>
    public static IReadOnlyList<(string Name, IReadOnlyList<string> Paths)> ParseNamedPaths(IEnumerable<string> values, string option)
    {
        var named = new List<(string Name, List<string> Paths)>();
        foreach (var value in values)
        {
            var equals = value.IndexOf('=');
            if (equals <= 0 || equals == value.Length - 1)
                throw new ArgumentException($"{option} '{value}' is not NAME=PATH (for example {option} law=data/law).");
            var name = value[..equals];
            var index = named.FindIndex(n => n.Name == name);
            if (index < 0) named.Add((name, [value[(equals + 1)..]]));
            else named[index].Paths.Add(value[(equals + 1)..]);
        }
        return named.Select(n => (n.Name, (IReadOnlyList<string>)n.Paths)).ToList();
    }
}
