using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.Operator.Client;
using Nexus.Operator.Runtime;

namespace Nexus.Operator.Tests.Support;

/// <summary>
/// Applies merge patches to a <see cref="FakeResourceServer{T}"/> the way the API server does: a
/// <c>metadata.resourceVersion</c> in the patch is a precondition (409 when stale), <c>/status</c> patches touch only
/// status and do not move the generation. Records every patch it was sent.
/// </summary>
public sealed class ServerBackedPatcher<T>(FakeResourceServer<T> server) : IResourcePatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private int _forcedConflicts;

    public List<(ResourceKey Key, string Subresource, JsonObject Patch)> Patches { get; } = new();

    /// <summary>The next patches answer 409 whatever their resourceVersion.</summary>
    public void ConflictNext(int count = 1) => Interlocked.Add(ref _forcedConflicts, count);

    public Task<T> PatchAsync(ResourceKey key, V1Patch patch, CancellationToken cancellationToken) =>
        Task.FromResult(Apply(key, patch, "", statusOnly: false));

    public Task<T> PatchStatusAsync(ResourceKey key, V1Patch patch, CancellationToken cancellationToken) =>
        Task.FromResult(Apply(key, patch, "status", statusOnly: true));

    private T Apply(ResourceKey key, V1Patch patch, string subresource, bool statusOnly)
    {
        Assert.Equal(V1Patch.PatchType.MergePatch, patch.Type);
        var body = JsonNode.Parse((string)patch.Content)!.AsObject();
        lock (Patches)
        {
            Patches.Add((key, subresource, body));
        }

        if (Interlocked.Decrement(ref _forcedConflicts) >= 0)
        {
            throw FakeResourceServer<T>.HttpError(HttpStatusCode.Conflict);
        }

        Interlocked.Exchange(ref _forcedConflicts, 0);
        var current = server.Get(key) ?? throw FakeResourceServer<T>.HttpError(HttpStatusCode.NotFound);
        var precondition = body["metadata"]?["resourceVersion"]?.GetValue<string>();
        if (precondition is not null && precondition != current.Metadata.ResourceVersion)
        {
            throw FakeResourceServer<T>.HttpError(HttpStatusCode.Conflict);
        }

        var document = ResourceCopy.ToJson(current)!.AsObject();
        if (statusOnly)
        {
            document["status"] = MergePatch.Apply(document["status"], body["status"]);
        }
        else
        {
            var change = body.DeepClone().AsObject();
            change["metadata"]!.AsObject().Remove("resourceVersion");
            document = MergePatch.Apply(document, change)!.AsObject();
        }

        var updated = KubernetesJson.Deserialize<T>(document.ToJsonString());
        return server.Update(updated, specChanged: false);
    }
}

/// <summary>RFC 7386 merge-patch application.</summary>
public static class MergePatch
{
    public static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject targetObject ? targetObject.DeepClone().AsObject() : new JsonObject();
        foreach (var (name, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(name);
            }
            else
            {
                result[name] = Apply(result[name], value);
            }
        }

        return result;
    }
}

/// <summary>Patchers backed by the fake servers of a <see cref="FakeListWatcherFactory"/>.</summary>
public sealed class FakePatcherFactory(FakeListWatcherFactory servers) : IResourcePatcherFactory
{
    public IResourcePatcher<T> Create<T>()
        where T : class, IKubernetesObject<V1ObjectMeta> => new ServerBackedPatcher<T>(servers.Server<T>());
}
