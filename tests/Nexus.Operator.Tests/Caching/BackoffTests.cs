using Nexus.Operator.Caching;

namespace Nexus.Operator.Tests.Caching;

public class BackoffTests
{
    [Fact]
    public void Delays_DoubleUpToTheMaximum_AndResetStartsOver()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), jitter: 0);

        var delays = Enumerable.Range(0, 7).Select(_ => backoff.Next().TotalSeconds).ToList();
        backoff.Reset();

        Assert.Equal([1.0, 2, 4, 8, 16, 30, 30], delays);
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Next());
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.999, 1.4995)]
    public void Jitter_StretchesEachDelayByUpToItsFraction(double random, double expectedSeconds)
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), jitter: 0.5, random: () => random);

        Assert.Equal(expectedSeconds, backoff.Next().TotalSeconds, precision: 6);
    }

    [Fact]
    public void InvalidSettings_AreRejected()
    {
        Assert.Throws<ArgumentException>(() => new Backoff(TimeSpan.Zero, TimeSpan.FromSeconds(1), 0));
        Assert.Throws<ArgumentException>(() => new Backoff(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 0));
        Assert.Throws<ArgumentException>(() => new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), -1));
    }
}
