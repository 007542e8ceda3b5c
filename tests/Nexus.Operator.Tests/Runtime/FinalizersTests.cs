using Nexus.Operator.Client;
using Nexus.Operator.Runtime;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Runtime;

public class FinalizersTests
{
    private const string Finalizer = "nexus.moe/artifacts";
    private static readonly ResourceKey A = new("default", "a");
    private readonly FakeResourceServer<Widget> _server = new();
    private readonly ServerBackedPatcher<Widget> _patcher;

    public FinalizersTests()
    {
        _patcher = new ServerBackedPatcher<Widget>(_server);
    }

    [Fact]
    public async Task Add_PatchesTheListWithTheResourceVersion_KeepingOtherFinalizers()
    {
        var widget = Widget.Create("a");
        widget.Metadata.Finalizers = ["other.io/cleanup"];
        var cached = _server.Create(widget);

        var updated = await Finalizers.AddAsync(_patcher, cached, Finalizer, CancellationToken.None);

        var (_, subresource, patch) = Assert.Single(_patcher.Patches);
        Assert.Equal("", subresource);
        Assert.Equal(cached.Metadata.ResourceVersion, patch["metadata"]!["resourceVersion"]!.GetValue<string>());
        Assert.Equal(["other.io/cleanup", Finalizer], _server.Get(A)!.Metadata.Finalizers);
        Assert.True(Finalizers.Has(updated, Finalizer));
        Assert.Null(patch["spec"]);
    }

    [Fact]
    public async Task Add_WhenPresent_MakesNoCall()
    {
        var widget = Widget.Create("a");
        widget.Metadata.Finalizers = [Finalizer];
        var cached = _server.Create(widget);

        Assert.Same(cached, await Finalizers.AddAsync(_patcher, cached, Finalizer, CancellationToken.None));
        Assert.Empty(_patcher.Patches);
    }

    [Fact]
    public async Task Remove_DropsOnlyOurFinalizer()
    {
        var widget = Widget.Create("a");
        widget.Metadata.Finalizers = ["other.io/cleanup", Finalizer];
        var cached = _server.Create(widget);

        await Finalizers.RemoveAsync(_patcher, cached, Finalizer, CancellationToken.None);

        Assert.Equal(["other.io/cleanup"], _server.Get(A)!.Metadata.Finalizers);
        Assert.Same(cached, await Finalizers.RemoveAsync(_patcher, cached, "absent.io/x", CancellationToken.None));
    }

    [Fact]
    public async Task StaleObject_IsRefusedInsteadOfClobberingAFinalizerAddedMeanwhile()
    {
        var stale = _server.Create(Widget.Create("a"));
        _server.Update(A, widget => widget.Metadata.Finalizers = ["other.io/cleanup"], specChanged: false);

        var conflict = await Assert.ThrowsAsync<ResourceConflictException>(() => Finalizers.AddAsync(_patcher, stale, Finalizer, CancellationToken.None));

        Assert.Equal(A, conflict.Key);
        Assert.Equal(["other.io/cleanup"], _server.Get(A)!.Metadata.Finalizers);
    }

    [Fact]
    public void IsDeleting_FollowsTheDeletionTimestamp()
    {
        var widget = Widget.Create("a");
        Assert.False(Finalizers.IsDeleting(widget));
        widget.Metadata.DeletionTimestamp = DateTime.UtcNow;
        Assert.True(Finalizers.IsDeleting(widget));
    }
}
