using Nexus.Operator.Runtime;

namespace Nexus.Operator.Tests.Runtime;

public class ReconcileResultTests
{
    [Fact]
    public void Factories_CarryTheirArguments()
    {
        Assert.Equal(ReconcileOutcome.Done, ReconcileResult.Done.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(30), ReconcileResult.RequeueAfter(TimeSpan.FromSeconds(30)).Delay);
        Assert.Equal("WaitingForJob", ReconcileResult.Retry("WaitingForJob").Reason);
        var terminal = ReconcileResult.Terminal("InvalidSpec", "size must be positive");
        Assert.Equal((ReconcileOutcome.Terminal, "InvalidSpec", "size must be positive"), (terminal.Outcome, terminal.Reason, terminal.Message));
    }

    [Fact]
    public void InvalidArguments_AreRejectedWhereTheResultIsMade()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ReconcileResult.RequeueAfter(TimeSpan.Zero));
        Assert.Throws<ArgumentException>(() => ReconcileResult.Terminal("not a reason", "x"));
        Assert.Throws<ArgumentException>(() => ReconcileResult.Retry(""));
    }
}
