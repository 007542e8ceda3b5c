using System.Diagnostics;
using Nexus.Model;
using static TorchSharp.torch;

namespace Nexus.Training;

public sealed record TrainResult(long Steps, double FinalTrainLoss, EvalResult Validation, double TokensPerSecond, string? ResumedFrom);

/// <summary>
/// Next-token training of a dense or MoE <see cref="CausalLanguageModel"/>: AdamW (ours; no decay on norms), linear warm-up then
/// cosine decay, gradient clipping and accumulation. Checkpoints hold model, optimizer and step; the
/// batches of a step are a pure function of (seed, step), so a resumed run continues exactly.
/// </summary>
public sealed class Trainer(TrainerOptions options, Action<string>? log = null)
{
    private readonly Action<string> log = log ?? (_ => { });

    /// <summary>Raised with the checkpoint's folder after each checkpoint is saved (e.g. to publish the run folder).</summary>
    public event Action<string>? CheckpointSaved;

    /// <summary>Raised after each optimizer step with the number of steps done (benchmarks sample time and memory here).</summary>
    public event Action<long>? StepCompleted;

    /// <summary>Trains on one corpus: random windows of its training split, validated on its held-out tail.</summary>
    public TrainResult Run(CausalLanguageModel model, TokenCorpus corpus, string runDirectory, bool resume,
        ProgressReporter? progress = null, CancellationToken cancellation = default) =>
        Run(model, new BatchSampler(corpus.Train, options.BatchSize, options.SequenceLength, options.Seed), corpus.Validation,
            runDirectory, resume, progress, cancellation);

    /// <summary>Trains on a weighted mix of domains (a finetune), validated on an equal slice of each.</summary>
    public TrainResult Run(CausalLanguageModel model, DomainMix mix, string runDirectory, bool resume,
        ProgressReporter? progress = null, CancellationToken cancellation = default) =>
        Run(model, mix.Sampler(options.BatchSize, options.SequenceLength, options.Seed), mix.Validation(options.EvalTokens),
            runDirectory, resume, progress, cancellation);

    /// <summary>
    /// The loop. An MoE's load-balancing loss (already scaled by its coefficient) is added to the
    /// cross-entropy; the reported loss is the cross-entropy alone, comparable with a dense model's.
    /// </summary>
    public TrainResult Run(CausalLanguageModel model, ITrainingBatches sampler, int[] validation, string runDirectory, bool resume,
        ProgressReporter? progress = null, CancellationToken cancellation = default)
    {
        options.Validate();
        Directory.CreateDirectory(runDirectory);
        model.PrepareForTraining();
        using var optimizer = CreateOptimizer(model, options);
        var schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.MinLearningRateRatio);

        long start = 0;
        double previousElapsed = 0;
        string? resumedFrom = null;
        if (resume && TrainingCheckpoint.Latest(runDirectory) is { } checkpoint)
        {
            var state = TrainingCheckpoint.Restore(checkpoint, model, optimizer);
            EnsureCompatible(state.Options, checkpoint);
            start = state.Step;
            previousElapsed = state.ElapsedSeconds;
            resumedFrom = checkpoint;
            log($"Resuming from {checkpoint} at step {start}.");
        }

        using var metrics = new MetricsLog(Path.Combine(runDirectory, "metrics.jsonl"));
        var clock = Stopwatch.StartNew();
        var lastLoss = double.NaN;
        model.train();
        var lastCheckpoint = start;
        for (var step = start; step < options.Steps; step++)
        {
            if (cancellation.IsCancellationRequested)
            {
                // Preempted (SIGTERM, Ctrl+C): keep every finished step, then stop.
                if (step > lastCheckpoint) Checkpoint(runDirectory, model, optimizer, step, previousElapsed + clock.Elapsed.TotalSeconds);
                cancellation.ThrowIfCancellationRequested();
            }
            using (var scope = NewDisposeScope())
            {
                var lr = schedule.At(step);

                double loss = 0, auxLoss = 0;
                var isMoe = false;
                for (var micro = 0; micro < options.GradientAccumulation; micro++)
                {
                    var (inputs, targets) = sampler.Batch(step, micro);
                    var output = model.ForwardDetailed(inputs);
                    var logits = output.Logits;
                    var crossEntropy = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), targets.view(-1));
                    var objective = output.AuxLoss is { } aux ? crossEntropy + aux : crossEntropy;
                    (objective / options.GradientAccumulation).backward();
                    loss += crossEntropy.item<float>() / options.GradientAccumulation;
                    if (output.AuxLoss is { } balance)
                    {
                        isMoe = true;
                        auxLoss += balance.item<float>() / options.GradientAccumulation;
                    }
                }
                var gradNorm = options.GradientClip > 0 ? optimizer.ClipGradientNorm(options.GradientClip) : double.NaN;
                optimizer.Step(lr);
                optimizer.ZeroGrad();
                lastLoss = loss;

                var done = step + 1;
                var elapsed = clock.Elapsed.TotalSeconds;
                var rate = (done - start) * options.TokensPerStep / Math.Max(elapsed, 1e-9);
                var eta = TimeSpan.FromSeconds((options.Steps - done) * options.TokensPerStep / Math.Max(rate, 1e-9));
                StepCompleted?.Invoke(done);
                progress?.Report(done, loss, rate, eta, force: done == options.Steps);
                if (done % LogEvery() == 0 || done == options.Steps)
                    metrics.Write(new TrainMetric("train", done, loss, lr, gradNorm, done * options.TokensPerStep, rate, previousElapsed + elapsed,
                        isMoe ? auxLoss : null));

                if (options.EvalEvery > 0 && done % options.EvalEvery == 0 && done != options.Steps)
                    WriteEval(metrics, done, Evaluate(model, validation));
                if (options.CheckpointEvery > 0 && done % options.CheckpointEvery == 0 && done != options.Steps)
                {
                    Checkpoint(runDirectory, model, optimizer, done, previousElapsed + clock.Elapsed.TotalSeconds);
                    lastCheckpoint = done;
                }
            }
        }
        progress?.Finish();

        var trainedSeconds = clock.Elapsed.TotalSeconds;
        if (start < options.Steps) Checkpoint(runDirectory, model, optimizer, options.Steps, previousElapsed + trainedSeconds);
        var final = Evaluate(model, validation);
        WriteEval(metrics, options.Steps, final);
        var tokensPerSecond = (options.Steps - start) * options.TokensPerStep / Math.Max(trainedSeconds, 1e-9);
        return new TrainResult(options.Steps, lastLoss, final, tokensPerSecond, resumedFrom);
    }

    public EvalResult Evaluate(CausalLanguageModel model, int[] validation) =>
        Evaluator.Evaluate(model, validation, options.SequenceLength, options.BatchSize, options.EvalTokens);

    private long LogEvery() => Math.Max(1, options.Steps / 200);

    private void WriteEval(MetricsLog metrics, long step, EvalResult result)
    {
        metrics.Write(new EvalMetric("eval", step, result.Loss, result.Perplexity, result.Tokens));
        log($"step {step}: validation loss {result.Loss:F4}, perplexity {result.Perplexity:F2}");
    }

    private void Checkpoint(string runDirectory, CausalLanguageModel model, AdamW optimizer, long step, double elapsed)
    {
        var state = new TrainerState { Step = step, TokensSeen = step * options.TokensPerStep, ElapsedSeconds = elapsed, Options = options };
        var path = TrainingCheckpoint.Save(runDirectory, model, optimizer, state, options.KeepCheckpoints);
        log($"Checkpoint {path}");
        CheckpointSaved?.Invoke(path);
    }

    /// <summary>A resumed run must be the same run: only bookkeeping options may differ.</summary>
    private void EnsureCompatible(TrainerOptions saved, string checkpoint)
    {
        var bookkeeping = options with
        {
            EvalEvery = saved.EvalEvery,
            EvalTokens = saved.EvalTokens,
            CheckpointEvery = saved.CheckpointEvery,
            KeepCheckpoints = saved.KeepCheckpoints,
        };
        if (bookkeeping != saved)
            throw new InvalidOperationException(
                $"Cannot resume from {checkpoint}: it was trained with different settings ({Differences(saved, options)}). " +
                "Use the original settings, or a new output folder to start over.");
    }

    private static string Differences(TrainerOptions a, TrainerOptions b) =>
        string.Join(", ", typeof(TrainerOptions).GetProperties()
            .Where(p => p.CanWrite && !Equals(p.GetValue(a), p.GetValue(b)))
            .Select(p => $"{p.Name} {p.GetValue(a)} → {p.GetValue(b)}"));

    private static AdamW CreateOptimizer(CausalLanguageModel model, TrainerOptions options) =>
        new(model.named_parameters().Select(p => (p.name, p.parameter, Decay: !p.name.EndsWith("norm.weight", StringComparison.Ordinal))),
            options.Beta1, options.Beta2, epsilon: 1e-8, options.WeightDecay);
}
