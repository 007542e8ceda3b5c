using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Nexus.ApiServer.Registry;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Controllers;

/// <summary>The garbage collector and namespace controller, as kube-controller-manager runs them, working through the
/// same registry as clients so watches see every step:
/// <list type="bullet">
/// <item>a dependent whose owners (metadata.ownerReferences[].uid) are all gone is deleted in the background; one that
/// keeps a live owner only loses its dangling references;</item>
/// <item>an owner deleted with propagationPolicy Orphan (the <c>orphan</c> finalizer) has its dependents' references
/// to it removed, then the finalizer;</item>
/// <item>an owner deleted in the foreground (<c>foregroundDeletion</c>) has its dependents deleted and keeps its
/// finalizer until no dependent with blockOwnerDeletion remains;</item>
/// <item>a terminating namespace is emptied, then removed.</item>
/// </list>
/// It reacts to every commit, asynchronously like the real one but within milliseconds; tests wait for it with
/// <see cref="SettleAsync"/>.</summary>
public sealed partial class GarbageCollector : IAsyncDisposable
{
    private const int MaxPassesPerSettle = 1000;

    private readonly ResourceRegistry registry;
    private readonly ILogger logger;
    private readonly SemaphoreSlim passGate = new(1, 1);
    private readonly CancellationTokenSource stopping = new();
    private Task worker = Task.CompletedTask;

    internal GarbageCollector(ResourceRegistry registry, ILogger logger)
    {
        this.registry = registry;
        this.logger = logger;
    }

    /// <summary>Runs collection passes until one finds nothing to do: afterwards, no dependent of a deleted owner and
    /// no content of a deleted namespace remains (except objects held by their own finalizers).</summary>
    public async Task SettleAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            await RunUntilSettledAsync(limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("The garbage collector did not settle in time.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        try
        {
            await worker;
        }
        catch (OperationCanceledException)
        {
            // Stopped while waiting for the next change.
        }

        stopping.Dispose();
        passGate.Dispose();
    }

    internal void Start() => worker = Task.Run(() => RunAsync(stopping.Token));

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            // Take the change signal before the pass, so a commit made during the pass triggers another one.
            var changed = registry.Store.WaitForChangeAsync(cancellationToken);
            try
            {
                await RunUntilSettledAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogPassFailed(logger, e);
            }

            await changed;
        }
    }

    private async Task RunUntilSettledAsync(CancellationToken cancellationToken)
    {
        for (var pass = 0; pass < MaxPassesPerSettle; pass++)
        {
            await passGate.WaitAsync(cancellationToken);
            int actions;
            try
            {
                actions = Pass();
            }
            finally
            {
                passGate.Release();
            }

            if (actions == 0)
            {
                return;
            }
        }

        throw new InvalidOperationException($"The garbage collector did not settle after {MaxPassesPerSettle} passes.");
    }

    /// <summary>One pass over a snapshot of the store; returns how many writes it made.</summary>
    private int Pass()
    {
        var objects = registry.Store.Transact(tx => tx.ScanAll().ToList());
        var byUid = objects.ToDictionary(o => o.Uid, StringComparer.Ordinal);
        var dependentsOf = objects
            .SelectMany(o => o.Owners.Select(owner => (owner.Uid, Dependent: o)))
            .ToLookup(pair => pair.Uid, pair => pair.Dependent, StringComparer.Ordinal);
        var actions = 0;
        foreach (var obj in objects)
        {
            if (obj.IsBeingDeleted && obj.Definition == registry.Catalog.Namespaces)
            {
                actions += EmptyNamespace(obj, objects);
            }
            else if (obj.IsBeingDeleted && obj.Finalizers.Contains(PropagationPolicies.OrphanFinalizer))
            {
                actions += OrphanDependents(obj, dependentsOf[obj.Uid]);
            }
            else if (obj.IsBeingDeleted && obj.Finalizers.Contains(PropagationPolicies.ForegroundFinalizer))
            {
                actions += DeleteDependentsInForeground(obj, dependentsOf[obj.Uid], dependentsOf);
            }

            if (obj.Owners.Count > 0 && !obj.IsBeingDeleted)
            {
                actions += CollectIfOwnersGone(obj, byUid);
            }
        }

        return actions;
    }

    private int CollectIfOwnersGone(StoredObject dependent, Dictionary<string, StoredObject> byUid)
    {
        var dangling = dependent.Owners
            .Where(owner => !byUid.TryGetValue(owner.Uid, out var found) || !CanOwn(found, dependent))
            .Select(owner => owner.Uid)
            .ToHashSet(StringComparer.Ordinal);
        if (dangling.Count == 0)
        {
            return 0;
        }

        if (dangling.Count == dependent.Owners.Count)
        {
            LogCollecting(logger, dependent.Definition.Plural, dependent.Namespace ?? string.Empty, dependent.Name);
            return TryDelete(dependent, PropagationPolicies.Background);
        }

        return TryMutate(dependent, obj => RemoveOwnerReferences(obj, dangling));
    }

    /// <summary>A namespaced owner can only own objects in its own namespace; a cluster-scoped one can own anything.</summary>
    private static bool CanOwn(StoredObject owner, StoredObject dependent) => owner.Namespace is null || owner.Namespace == dependent.Namespace;

    private int OrphanDependents(StoredObject owner, IEnumerable<StoredObject> dependents)
    {
        var actions = 0;
        var ownerUid = new HashSet<string>([owner.Uid], StringComparer.Ordinal);
        foreach (var dependent in dependents)
        {
            actions += TryMutate(dependent, obj => RemoveOwnerReferences(obj, ownerUid));
        }

        return actions + RemoveFinalizer(owner, PropagationPolicies.OrphanFinalizer);
    }

    private int DeleteDependentsInForeground(StoredObject owner, IEnumerable<StoredObject> dependents, ILookup<string, StoredObject> dependentsOf)
    {
        var actions = 0;
        var blocking = 0;
        foreach (var dependent in dependents)
        {
            if (dependent.Owners.Any(o => o.Uid == owner.Uid && o.BlockOwnerDeletion))
            {
                blocking++;
            }

            if (!dependent.IsBeingDeleted)
            {
                // A dependent that owns others is itself deleted in the foreground, so the chain unwinds bottom-up.
                var policy = dependentsOf[dependent.Uid].Any() ? PropagationPolicies.Foreground : PropagationPolicies.Background;
                actions += TryDelete(dependent, policy);
            }
        }

        return blocking == 0 ? actions + RemoveFinalizer(owner, PropagationPolicies.ForegroundFinalizer) : actions;
    }

    private int EmptyNamespace(StoredObject ns, List<StoredObject> objects)
    {
        var contents = objects.Where(o => o.Namespace == ns.Name).ToList();
        if (contents.Count == 0)
        {
            return registry.FinalizeNamespace(ns.Name) ? 1 : 0;
        }

        return contents.Where(o => !o.IsBeingDeleted).Sum(o => TryDelete(o, PropagationPolicies.Background));
    }

    private int RemoveFinalizer(StoredObject obj, string finalizer) =>
        TryMutate(obj, json => ObjectJson.SetFinalizers(json, ObjectJson.Finalizers(json).Where(f => f != finalizer)));

    private static void RemoveOwnerReferences(JsonObject obj, HashSet<string> uids)
    {
        var metadata = ObjectJson.Metadata(obj);
        if (metadata["ownerReferences"] is not JsonArray references)
        {
            return;
        }

        var kept = references
            .Where(r => ObjectJson.StringOf(r?["uid"]) is not { } uid || !uids.Contains(uid))
            .Select(r => r?.DeepClone())
            .ToArray();
        if (kept.Length == 0)
        {
            metadata.Remove("ownerReferences");
        }
        else
        {
            metadata["ownerReferences"] = new JsonArray(kept);
        }
    }

    private int TryDelete(StoredObject obj, string policy)
    {
        try
        {
            registry.Delete(obj.Definition, obj.Namespace, obj.Name, new DeleteOptions(policy, PreconditionUid: obj.Uid));
            return 1;
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
            return 0;
        }
    }

    private int TryMutate(StoredObject obj, Action<JsonObject> change)
    {
        try
        {
            return registry.Mutate(obj.Definition, obj.Namespace, obj.Name, json =>
            {
                if (ObjectJson.MetadataString(json, "uid") == obj.Uid)
                {
                    change(json);
                }
            }, statusOnly: false) ? 1 : 0;
        }
        catch (ApiException e)
        {
            LogWriteRefused(logger, obj.Definition.Plural, obj.Namespace ?? string.Empty, obj.Name, e.Message);
            return 0;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Collecting {Resource} {Namespace}/{Name}: every owner is gone")]
    private static partial void LogCollecting(ILogger logger, string resource, string @namespace, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Garbage collector write to {Resource} {Namespace}/{Name} refused: {Reason}")]
    private static partial void LogWriteRefused(ILogger logger, string resource, string @namespace, string name, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Garbage collection pass failed")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
