using System.Text.Json.Nodes;
using Nexus.Api;
using Nexus.Operator.Client;
using Nexus.Operator.Runtime;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Runtime;

public class StatusWriterTests
{
    private static readonly DateTimeOffset Now = new(2025, 5, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly ResourceKey A = new("default", "a");
    private readonly FakeResourceServer<Widget> _server = new();
    private readonly ServerBackedPatcher<Widget> _patcher;
    private readonly StatusWriter<Widget> _writer;

    public StatusWriterTests()
    {
        _patcher = new ServerBackedPatcher<Widget>(_server);
        _writer = new StatusWriter<Widget>(_patcher);
    }

    private static void Ready(Widget widget) =>
        Conditions.MarkReady(widget.EnsureStatus(), "Serving", "ok", widget.Metadata.Generation, Now);

    [Fact]
    public async Task ChangedStatus_IsWrittenAsOneMergePatchWithTheResourceVersion_AndObservedGeneration()
    {
        var cached = _server.Create(Widget.Create("a"));

        var result = await _writer.UpdateAsync(cached, Ready, CancellationToken.None);

        Assert.True(result.Written);
        var (key, subresource, patch) = Assert.Single(_patcher.Patches);
        Assert.Equal((A, "status"), (key, subresource));
        Assert.Equal(cached.Metadata.ResourceVersion, patch["metadata"]!["resourceVersion"]!.GetValue<string>());
        Assert.Equal(1, patch["status"]!["observedGeneration"]!.GetValue<long>());
        Assert.Equal("Ready", patch["status"]!["conditions"]![0]!["type"]!.GetValue<string>());
        Assert.Equal(result.Resource.Metadata.ResourceVersion, _server.Get(A)!.Metadata.ResourceVersion);
        Assert.True(Conditions.IsTrue(_server.Get(A)!.Status!.Conditions, Conditions.Ready));
    }

    [Fact]
    public async Task TheCachedObject_IsNeverModified()
    {
        var cached = _server.Create(Widget.Create("a"));

        await _writer.UpdateAsync(cached, Ready, CancellationToken.None);

        Assert.Null(cached.Status);
    }

    [Fact]
    public async Task UnchangedStatus_MakesNoApiCall()
    {
        var written = (await _writer.UpdateAsync(_server.Create(Widget.Create("a")), Ready, CancellationToken.None)).Resource;

        var again = await _writer.UpdateAsync(written, Ready, CancellationToken.None);

        Assert.False(again.Written);
        Assert.Same(written, again.Resource);
        Assert.Single(_patcher.Patches);
    }

    [Fact]
    public async Task OnlyTheChangedMembersAreSent_AndRemovedOnesAsNull()
    {
        var written = (await _writer.UpdateAsync(
            _server.Create(Widget.Create("a")),
            widget =>
            {
                Ready(widget);
                ((WidgetStatus)widget.EnsureStatus()).Message = "warming up";
            },
            CancellationToken.None)).Resource;

        await _writer.UpdateAsync(written, widget => widget.Status!.Message = null, CancellationToken.None);

        var patch = _patcher.Patches[^1].Patch["status"]!.AsObject();
        Assert.Equal(["message"], patch.Select(member => member.Key));
        Assert.Null(patch["message"]);
        Assert.Null(_server.Get(A)!.Status!.Message);
        Assert.True(Conditions.IsTrue(_server.Get(A)!.Status!.Conditions, Conditions.Ready));
    }

    [Fact]
    public async Task NewGeneration_WithOtherwiseEqualStatus_WritesObservedGeneration()
    {
        var written = (await _writer.UpdateAsync(_server.Create(Widget.Create("a")), _ => { }, CancellationToken.None)).Resource;
        var respecced = _server.Update(A, widget => widget.Spec.Size = 7);
        Assert.Equal(2, respecced.Metadata.Generation);

        var result = await _writer.UpdateAsync(respecced, _ => { }, CancellationToken.None);

        Assert.True(result.Written);
        Assert.Equal(JsonValue.Create(2L)!.ToJsonString(), _patcher.Patches[^1].Patch["status"]!["observedGeneration"]!.ToJsonString());
        Assert.Equal(2, _server.Get(A)!.Status!.ObservedGeneration);
        Assert.Equal(1, written.Status!.ObservedGeneration);
    }

    [Fact]
    public async Task StaleCachedObject_SurfacesAConflictOnce_WithoutRetrying()
    {
        var stale = _server.Create(Widget.Create("a"));
        _server.Update(A, widget => widget.Spec.Size = 2);

        var conflict = await Assert.ThrowsAsync<ResourceConflictException>(() => _writer.UpdateAsync(stale, Ready, CancellationToken.None));

        Assert.Equal(A, conflict.Key);
        Assert.Equal(stale.Metadata.ResourceVersion, conflict.StaleResourceVersion);
        Assert.True(ApiErrors.IsConflict(conflict));
        Assert.Single(_patcher.Patches);
        Assert.Null(_server.Get(A)!.Status);
    }
}
