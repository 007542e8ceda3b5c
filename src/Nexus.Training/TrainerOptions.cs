namespace Nexus.Training;

/// <summary>Settings of one training run, with their units. Validation names the offending option.</summary>
public sealed record TrainerOptions
{
    /// <summary>Optimizer steps.</summary>
    public long Steps { get; init; } = 500;
    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Tokens per sequence.</summary>
    public int SequenceLength { get; init; } = 128;
    /// <summary>Micro-batches per optimizer step.</summary>
    public int GradientAccumulation { get; init; } = 1;
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>Floor of the cosine decay, as a fraction of the peak rate.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;
    /// <summary>Steps of linear warm-up.</summary>
    public long WarmupSteps { get; init; } = 50;
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Global gradient-norm clip; 0 disables.</summary>
    public double GradientClip { get; init; } = 1.0;
    /// <summary>Steps between validation passes; 0 evaluates only at the end.</summary>
    public long EvalEvery { get; init; } = 100;
    /// <summary>Validation tokens per pass (at most).</summary>
    public long EvalTokens { get; init; } = 16_384;
    /// <summary>Steps between checkpoints; 0 checkpoints only at the end.</summary>
    public long CheckpointEvery { get; init; } = 100;
    /// <summary>Checkpoints kept on disk (oldest deleted first).</summary>
    public int KeepCheckpoints { get; init; } = 2;
    public long Seed { get; init; } = 1234;
    /// <summary>The domain mix of a finetune (name=weight,…); recorded so a resumed run must use the same one.</summary>
    public string? Mix { get; init; }

    public long TokensPerStep => (long)BatchSize * SequenceLength * GradientAccumulation;

    public void Validate()
    {
        Require(Steps > 0, "--steps", $"must be positive (got {Steps})");
        Require(BatchSize > 0, "--batch-size", $"must be positive (got {BatchSize})");
        Require(SequenceLength > 1, "--seq-len", $"must be at least 2 tokens (got {SequenceLength})");
        Require(GradientAccumulation > 0, "--grad-accum", $"must be positive (got {GradientAccumulation})");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "--lr", $"must be a positive number (got {LearningRate})");
        Require(MinLearningRateRatio is >= 0 and <= 1, "--min-lr-ratio", $"must be in [0, 1] (got {MinLearningRateRatio})");
        Require(WarmupSteps >= 0, "--warmup", $"must not be negative (got {WarmupSteps})");
        Require(WeightDecay >= 0, "--weight-decay", $"must not be negative (got {WeightDecay})");
        Require(Beta1 is >= 0 and < 1, "--beta1", $"must be in [0, 1) (got {Beta1})");
        Require(Beta2 is >= 0 and < 1, "--beta2", $"must be in [0, 1) (got {Beta2})");
        Require(GradientClip >= 0, "--clip", $"must not be negative (got {GradientClip})");
        Require(EvalEvery >= 0, "--eval-every", $"must not be negative (got {EvalEvery})");
        Require(EvalTokens > 0, "--eval-tokens", $"must be positive (got {EvalTokens})");
        Require(CheckpointEvery >= 0, "--checkpoint-every", $"must not be negative (got {CheckpointEvery})");
        Require(KeepCheckpoints > 0, "--keep-checkpoints", $"must be positive (got {KeepCheckpoints})");
    }

    private static void Require(bool condition, string option, string problem)
    {
        if (!condition) throw new ArgumentException($"{option} {problem}.");
    }
}
