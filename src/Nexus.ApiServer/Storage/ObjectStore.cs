using System.Globalization;
using System.Text.Json.Nodes;
using Nexus.ApiServer.Registry;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Watch;

namespace Nexus.ApiServer.Storage;

/// <summary>The MVCC store: one global revision counter (etcd's revision, which becomes every object's
/// resourceVersion), the current objects of each resource in key order, and each resource's event history back to a
/// compaction point. Every read and write runs under one lock and is short; watches are fed from inside the lock
/// through their queues, so they observe commits in revision order with no gaps.</summary>
internal sealed class ObjectStore
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, Table> tables = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StoredObject> byUid = new(StringComparer.Ordinal);
    private readonly List<WatchSubscription> watches = [];
    private readonly int historyLimit;
    private long revision;
    private TaskCompletionSource changed = NewSignal();

    public ObjectStore(int historyLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(historyLimit, 1);
        this.historyLimit = historyLimit;
    }

    /// <summary>The revision of the last commit.</summary>
    public long Revision
    {
        get
        {
            lock (gate)
            {
                return revision;
            }
        }
    }

    public int OpenWatchCount
    {
        get
        {
            lock (gate)
            {
                return watches.Count;
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> atomically against the store. Commits made inside become visible (and are
    /// sent to watches) in order; waiters on <see cref="WaitForChangeAsync"/> wake after the lock is released.</summary>
    public T Transact<T>(Func<Transaction, T> work)
    {
        TaskCompletionSource? signal = null;
        T result;
        lock (gate)
        {
            var before = revision;
            try
            {
                result = work(new Transaction(this));
            }
            finally
            {
                if (revision != before)
                {
                    signal = changed;
                    changed = NewSignal();
                }
            }
        }

        signal?.TrySetResult();
        return result;
    }

    /// <summary>Completes at the next commit.</summary>
    public Task WaitForChangeAsync(CancellationToken cancellationToken)
    {
        Task task;
        lock (gate)
        {
            task = changed.Task;
        }

        return task.WaitAsync(cancellationToken);
    }

    /// <summary>Drops history up to <paramref name="compactTo"/>: watches, continue tokens and exact reads from an
    /// older revision then get 410 Expired.</summary>
    public void Compact(long compactTo)
    {
        lock (gate)
        {
            foreach (var table in tables.Values)
            {
                table.CompactTo(Math.Min(compactTo, revision));
            }
        }
    }

    public void ForEachWatch(Action<WatchSubscription> action)
    {
        List<WatchSubscription> snapshot;
        lock (gate)
        {
            snapshot = [.. watches];
        }

        foreach (var watch in snapshot)
        {
            action(watch);
        }
    }

    /// <summary>Queues a BOOKMARK at the current revision on every watch that asked for them. Inside the lock, so a
    /// bookmark never overtakes an event of a lower revision.</summary>
    public void Bookmark()
    {
        lock (gate)
        {
            foreach (var watch in watches.Where(w => w.Bookmarks))
            {
                watch.Enqueue(new WatchItem("BOOKMARK", null, revision, null));
            }
        }
    }

    public void Unsubscribe(WatchSubscription watch)
    {
        lock (gate)
        {
            watches.Remove(watch);
        }
    }

    private Table TableOf(string storageKey)
    {
        if (!tables.TryGetValue(storageKey, out var table))
        {
            table = new Table(historyLimit);
            tables[storageKey] = table;
        }

        return table;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The store as seen from inside <see cref="Transact{T}"/>.</summary>
    internal readonly struct Transaction(ObjectStore store)
    {
        public long Revision => store.revision;

        public StoredObject? Get(ResourceDefinition definition, string? ns, string name) =>
            store.TableOf(definition.StorageKey).Objects.GetValueOrDefault(StoredObject.KeyOf(definition.Namespaced ? ns : null, name));

        public IEnumerable<StoredObject> Scan(ResourceDefinition definition) => store.TableOf(definition.StorageKey).Objects.Values;

        public IEnumerable<StoredObject> ScanAll() => store.tables.Values.SelectMany(t => t.Objects.Values);

        public StoredObject? FindByUid(string uid) => store.byUid.GetValueOrDefault(uid);

        /// <summary>The lowest revision from which the resource's history is complete.</summary>
        public long CompactedRevision(ResourceDefinition definition) => store.TableOf(definition.StorageKey).CompactedRevision;

        /// <summary>Writes a new state of an object at the next revision (ADDED when <paramref name="previous"/> is
        /// null, else MODIFIED) and returns it as stored.</summary>
        public StoredObject Put(ResourceDefinition definition, JsonObject obj, StoredObject? previous)
        {
            var next = store.revision + 1;
            ObjectJson.Metadata(obj)["resourceVersion"] = next.ToString(CultureInfo.InvariantCulture);
            var stored = StoredObject.Freeze(definition, obj);
            store.revision = next;
            var table = store.TableOf(definition.StorageKey);
            table.Objects[stored.Key] = stored;
            if (previous is not null && previous.Uid != stored.Uid)
            {
                store.byUid.Remove(previous.Uid);
            }

            store.byUid[stored.Uid] = stored;
            Publish(definition, table, new StoreEvent(next, previous is null ? StoreEventType.Added : StoreEventType.Modified, stored, previous));
            return stored;
        }

        /// <summary>Puts back an object as it was saved (its resourceVersion kept, no event: nobody watched it yet),
        /// for a server loading its state file; the store's revision becomes at least the object's.</summary>
        public StoredObject Restore(ResourceDefinition definition, JsonObject obj)
        {
            var stored = StoredObject.Freeze(definition, obj);
            store.TableOf(definition.StorageKey).Objects[stored.Key] = stored;
            store.byUid[stored.Uid] = stored;
            store.revision = Math.Max(store.revision, stored.Revision);
            return stored;
        }

        /// <summary>Sets the revision after a restore to the one that was saved (deletions may have come after the
        /// last object's revision), and marks every history as starting there: a resourceVersion from before the
        /// restart gets 410 Expired, as after an etcd compaction.</summary>
        public void RestoredAt(long savedRevision)
        {
            store.revision = Math.Max(store.revision, savedRevision);
            foreach (var table in store.tables.Values)
            {
                table.CompactTo(store.revision);
            }
        }

        /// <summary>Removes an object at the next revision; returns its final state (carrying that revision).</summary>
        public StoredObject Remove(ResourceDefinition definition, StoredObject current)
        {
            var next = store.revision + 1;
            var final = current.ToJsonObject();
            ObjectJson.Metadata(final)["resourceVersion"] = next.ToString(CultureInfo.InvariantCulture);
            var frozen = StoredObject.Freeze(current.Definition, final);
            store.revision = next;
            var table = store.TableOf(definition.StorageKey);
            table.Objects.Remove(current.Key);
            store.byUid.Remove(current.Uid);
            Publish(definition, table, new StoreEvent(next, StoreEventType.Deleted, frozen, current));
            return frozen;
        }

        /// <summary>The resource's objects as they were at <paramref name="at"/>, rebuilt by undoing the history after
        /// it (etcd's MVCC read at a revision). 410 Expired when that history was compacted.</summary>
        public IReadOnlyList<StoredObject> SnapshotAt(ResourceDefinition definition, long at)
        {
            var table = store.TableOf(definition.StorageKey);
            if (at >= store.revision)
            {
                return [.. table.Objects.Values];
            }

            if (at < table.CompactedRevision)
            {
                throw ApiErrors.TooOldResourceVersion(at, table.CompactedRevision);
            }

            var snapshot = new SortedDictionary<string, StoredObject>(table.Objects, StringComparer.Ordinal);
            for (var i = table.History.Count - 1; i >= 0 && table.History[i].Revision > at; i--)
            {
                var undo = table.History[i];
                if (undo.Type == StoreEventType.Added)
                {
                    snapshot.Remove(undo.Object.Key);
                }
                else
                {
                    snapshot[undo.Previous!.Key] = undo.Previous;
                }
            }

            return [.. snapshot.Values];
        }

        /// <summary>Opens a watch. From a revision: replays every event after it (410 when compacted away). Without
        /// one: synthetic ADDED events for the current objects. Registration happens inside the lock, so no commit
        /// falls between the replay and the live stream.</summary>
        public void Subscribe(WatchSubscription watch, long? fromRevision, bool initialEventsEndBookmark)
        {
            var table = store.TableOf(watch.Definition.StorageKey);
            if (fromRevision is { } from)
            {
                if (from < table.CompactedRevision)
                {
                    throw ApiErrors.TooOldResourceVersion(from, table.CompactedRevision);
                }

                foreach (var past in table.History.Where(e => e.Revision > from))
                {
                    watch.Offer(past);
                }
            }
            else
            {
                foreach (var current in table.Objects.Values.Where(watch.Matches))
                {
                    watch.Enqueue(new WatchItem("ADDED", current, current.Revision, null));
                }

                if (initialEventsEndBookmark)
                {
                    watch.Enqueue(new WatchItem("BOOKMARK", null, store.revision, null, InitialEventsEnd: true));
                }
            }

            store.watches.Add(watch);
        }

        private void Publish(ResourceDefinition definition, Table table, StoreEvent storeEvent)
        {
            table.Append(storeEvent);
            foreach (var watch in store.watches)
            {
                if (watch.Definition.StorageKey == definition.StorageKey)
                {
                    watch.Offer(storeEvent);
                }
            }
        }
    }

    private sealed class Table(int historyLimit)
    {
        public SortedDictionary<string, StoredObject> Objects { get; } = new(StringComparer.Ordinal);

        public List<StoreEvent> History { get; } = [];

        public long CompactedRevision { get; private set; }

        public void Append(StoreEvent storeEvent)
        {
            History.Add(storeEvent);
            if (History.Count > historyLimit)
            {
                var drop = History.Count - historyLimit;
                CompactedRevision = Math.Max(CompactedRevision, History[drop - 1].Revision);
                History.RemoveRange(0, drop);
            }
        }

        public void CompactTo(long compactTo)
        {
            CompactedRevision = Math.Max(CompactedRevision, compactTo);
            History.RemoveAll(e => e.Revision <= compactTo);
        }
    }
}
