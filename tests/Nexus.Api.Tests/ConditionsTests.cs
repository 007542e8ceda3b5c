using k8s.Models;

namespace Nexus.Api.Tests;

public class ConditionsTests
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private sealed class TestStatus : IConditionedStatus
    {
        public long? ObservedGeneration { get; set; }
        public IList<V1Condition>? Conditions { get; set; }
    }

    [Fact]
    public void Set_AppendsNewConditionWithAllFields()
    {
        var list = new List<V1Condition>();

        var changed = Conditions.Set(list, "Trained", Conditions.True, "JobSucceeded", "done", 3, T0);

        Assert.True(changed);
        var condition = Assert.Single(list);
        Assert.Equal("Trained", condition.Type);
        Assert.Equal("True", condition.Status);
        Assert.Equal("JobSucceeded", condition.Reason);
        Assert.Equal("done", condition.Message);
        Assert.Equal(3, condition.ObservedGeneration);
        Assert.Equal(T0.UtcDateTime, condition.LastTransitionTime);
    }

    [Fact]
    public void Set_SameStatus_KeepsTransitionTimeButUpdatesReasonMessageAndGeneration()
    {
        var list = new List<V1Condition>();
        Conditions.Set(list, Conditions.Ready, Conditions.False, "Waiting", "pending", 1, T0);

        var changed = Conditions.Set(list, Conditions.Ready, Conditions.False, "JobRunning", "running", 2, T0.AddMinutes(5));

        Assert.True(changed);
        var condition = Assert.Single(list);
        Assert.Equal(T0.UtcDateTime, condition.LastTransitionTime);
        Assert.Equal("JobRunning", condition.Reason);
        Assert.Equal("running", condition.Message);
        Assert.Equal(2, condition.ObservedGeneration);
    }

    [Fact]
    public void Set_StatusFlip_MovesTransitionTime()
    {
        var list = new List<V1Condition>();
        Conditions.Set(list, Conditions.Ready, Conditions.False, "Waiting", "", 1, T0);

        Conditions.Set(list, Conditions.Ready, Conditions.True, "Serving", "", 1, T0.AddMinutes(7));

        Assert.Equal(T0.AddMinutes(7).UtcDateTime, Assert.Single(list).LastTransitionTime);
    }

    [Fact]
    public void Set_Identical_ReportsNoChange()
    {
        var list = new List<V1Condition>();
        Conditions.Set(list, Conditions.Ready, Conditions.True, "Serving", "ok", 4, T0);

        Assert.False(Conditions.Set(list, Conditions.Ready, Conditions.True, "Serving", "ok", 4, T0.AddHours(1)));
        Assert.Equal(T0.UtcDateTime, Assert.Single(list).LastTransitionTime);
    }

    [Fact]
    public void Set_TruncatesTransitionTimeToWholeSeconds()
    {
        var list = new List<V1Condition>();

        Conditions.Set(list, Conditions.Ready, Conditions.True, "Serving", "", null, T0.AddMilliseconds(789));

        Assert.Equal(T0.UtcDateTime, list[0].LastTransitionTime);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1Starts")]
    [InlineData("has space")]
    [InlineData("EndsWith:")]
    [InlineData("EndsWith,")]
    [InlineData("dash-ed")]
    public void Set_RejectsInvalidReason(string reason)
    {
        var list = new List<V1Condition>();

        Assert.Throws<ArgumentException>(() => Conditions.Set(list, Conditions.Ready, Conditions.True, reason, "", 1, T0));
        Assert.Empty(list);
    }

    [Theory]
    [InlineData("A")]
    [InlineData("JobSucceeded")]
    [InlineData("Quota_Exceeded")]
    [InlineData("Image:Pull,Failed2")]
    public void ValidateReason_AcceptsCamelCaseIdentifiers(string reason)
    {
        Conditions.ValidateReason(reason);
        Assert.True(Conditions.IsValidReason(reason));
    }

    [Fact]
    public void Set_RejectsUnknownStatusValue()
    {
        Assert.Throws<ArgumentException>(() => Conditions.Set(new List<V1Condition>(), "Ready", "true", "Serving", "", 1, T0));
    }

    [Fact]
    public void GetIsTrueRemove_WorkByType()
    {
        var list = new List<V1Condition>();
        Conditions.Set(list, "A", Conditions.True, "Yes", "", 1, T0);
        Conditions.Set(list, "B", Conditions.False, "No", "", 1, T0);

        Assert.True(Conditions.IsTrue(list, "A"));
        Assert.False(Conditions.IsTrue(list, "B"));
        Assert.True(Conditions.IsFalse(list, "B"));
        Assert.False(Conditions.IsTrue(list, "Missing"));
        Assert.Null(Conditions.Get(list, "Missing"));
        Assert.False(Conditions.IsTrue(null, "A"));

        Assert.True(Conditions.Remove(list, "A"));
        Assert.False(Conditions.Remove(list, "A"));
        Assert.Equal("B", Assert.Single(list).Type);
    }

    [Fact]
    public void MarkReconciling_ThenReady_RemovesAbnormalTrueConditions()
    {
        var status = new TestStatus();

        Conditions.MarkReconciling(status, "Training", "job running", 1, T0);
        Assert.True(Conditions.IsTrue(status.Conditions, Conditions.Reconciling));
        Assert.True(Conditions.IsFalse(status.Conditions, Conditions.Ready));
        Assert.Equal("Training", Conditions.Get(status.Conditions, Conditions.Ready)!.Reason);

        Conditions.MarkReady(status, "Trained", "done", 1, T0.AddMinutes(1));
        var ready = Assert.Single(status.Conditions!);
        Assert.Equal(Conditions.Ready, ready.Type);
        Assert.Equal(Conditions.True, ready.Status);
        Assert.Equal(T0.AddMinutes(1).UtcDateTime, ready.LastTransitionTime);
    }

    [Fact]
    public void MarkStalled_SetsStalledAndNotReady_AndClearsReconciling()
    {
        var status = new TestStatus();
        Conditions.MarkReconciling(status, "Training", "", 2, T0);

        Conditions.MarkStalled(status, "ImagePullBackOff", "image not found", 2, T0.AddMinutes(2));

        Assert.Null(Conditions.Get(status.Conditions, Conditions.Reconciling));
        var stalled = Conditions.Get(status.Conditions, Conditions.Stalled)!;
        Assert.Equal(Conditions.True, stalled.Status);
        Assert.Equal("image not found", stalled.Message);
        var ready = Conditions.Get(status.Conditions, Conditions.Ready)!;
        Assert.Equal(Conditions.False, ready.Status);
        Assert.Equal("ImagePullBackOff", ready.Reason);
        // Ready was already False while reconciling: no flip, so its transition time stays.
        Assert.Equal(T0.UtcDateTime, ready.LastTransitionTime);
    }

    [Fact]
    public void MarkReady_Twice_ReportsNoChangeTheSecondTime()
    {
        var status = new TestStatus();
        Assert.True(Conditions.MarkReady(status, "Serving", "ok", 1, T0));
        Assert.False(Conditions.MarkReady(status, "Serving", "ok", 1, T0.AddMinutes(3)));
    }
}
