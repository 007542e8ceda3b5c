namespace Nexus.Training.Tests;

public class ScheduleAndOptionsTests
{
    [Fact]
    public void WarmsUpLinearlyThenDecaysByCosineToTheFloor()
    {
        var schedule = new LearningRateSchedule(Peak: 1.0, WarmupSteps: 10, TotalSteps: 110, MinRatio: 0.1);
        Assert.Equal(0.1, schedule.At(0), 12);
        Assert.Equal(0.5, schedule.At(4), 12);
        Assert.Equal(1.0, schedule.At(10), 12);
        Assert.Equal(0.55, schedule.At(60), 12); // halfway through the decay
        Assert.Equal(0.1, schedule.At(110), 12);
        for (var s = 11; s <= 110; s++) Assert.True(schedule.At(s) <= schedule.At(s - 1));
    }

    [Theory]
    [InlineData("--steps")]
    [InlineData("--batch-size")]
    [InlineData("--seq-len")]
    [InlineData("--lr")]
    [InlineData("--warmup")]
    public void InvalidOptionsNameTheOption(string option)
    {
        var options = option switch
        {
            "--steps" => new TrainerOptions { Steps = -1 },
            "--batch-size" => new TrainerOptions { BatchSize = 0 },
            "--seq-len" => new TrainerOptions { SequenceLength = 1 },
            "--lr" => new TrainerOptions { LearningRate = double.NaN },
            _ => new TrainerOptions { WarmupSteps = -5 },
        };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.StartsWith(option, error.Message);
    }
}
