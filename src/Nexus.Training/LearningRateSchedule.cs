namespace Nexus.Training;

/// <summary>Linear warm-up to the peak rate, then cosine decay to <c>peak × minRatio</c> at the last step.</summary>
public sealed record LearningRateSchedule(double Peak, long WarmupSteps, long TotalSteps, double MinRatio)
{
    public double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        var decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        var progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0, 1);
        var min = Peak * MinRatio;
        return min + (Peak - min) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
