using k8s.Models;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Caching;

public class ResourceCacheTests
{
    private static Widget Owned(string name, string? @namespace, string ownerUid)
    {
        var widget = Widget.Create(name, @namespace);
        widget.Metadata.OwnerReferences = [new V1OwnerReference { Kind = "Widget", Name = "owner", Uid = ownerUid, Controller = true }];
        return widget;
    }

    [Fact]
    public void GetAndList_WorkByNamespaceAndName()
    {
        var cache = new ResourceCache<Widget>();
        cache.Upsert(Widget.Create("a", "ml"));
        cache.Upsert(Widget.Create("a", "ops"));
        cache.Upsert(Widget.Create("cluster-wide", null));

        Assert.Equal("ml", cache.Get("ml", "a")!.Metadata.NamespaceProperty);
        Assert.NotNull(cache.Get(new ResourceKey(null, "cluster-wide")));
        Assert.NotNull(cache.Get("", "cluster-wide"));
        Assert.Null(cache.Get("ml", "b"));
        Assert.Equal(3, cache.List().Count);
        Assert.Equal(["a"], cache.List("ops").Select(widget => widget.Metadata.Name));
    }

    [Fact]
    public void OwnerIndex_FollowsReplacementsAndRemovals()
    {
        var cache = new ResourceCache<Widget>();
        cache.Upsert(Owned("a", "ml", "u1"));
        cache.Upsert(Owned("b", "ml", "u1"));

        var previous = cache.Upsert(Owned("a", "ml", "u2"));
        var removed = cache.Remove(new ResourceKey("ml", "b"));

        Assert.Equal("u1", previous!.Metadata.OwnerReferences[0].Uid);
        Assert.Equal("b", removed!.Metadata.Name);
        Assert.Empty(cache.ByOwner("u1"));
        Assert.Equal("a", Assert.Single(cache.ByOwner("u2")).Metadata.Name);
        Assert.Null(cache.Remove(new ResourceKey("ml", "b")));
    }
}
