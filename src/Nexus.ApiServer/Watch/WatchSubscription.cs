using System.Text.Json.Nodes;
using System.Threading.Channels;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Selectors;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Watch;

/// <summary>What one open watch receives, in order: events, bookmarks, and at most one error.</summary>
internal readonly record struct WatchItem(string Type, StoredObject? Object, long Revision, JsonObject? Status, bool InitialEventsEnd = false);

/// <summary>One open watch: its filter and the queue the store feeds while holding its lock. The HTTP side drains the
/// queue to the socket, so no lock is ever held while writing to a client.</summary>
internal sealed class WatchSubscription
{
    private readonly Channel<WatchItem> items = Channel.CreateUnbounded<WatchItem>(new UnboundedChannelOptions { SingleReader = true });
    private Action? abort;

    public WatchSubscription(ResourceDefinition definition, string? ns, LabelSelector labels, FieldSelector fields, bool bookmarks)
    {
        Definition = definition;
        Namespace = ns;
        Labels = labels;
        Fields = fields;
        Bookmarks = bookmarks;
    }

    public ResourceDefinition Definition { get; }

    public string? Namespace { get; }

    public LabelSelector Labels { get; }

    public FieldSelector Fields { get; }

    public bool Bookmarks { get; }

    public ChannelReader<WatchItem> Reader => items.Reader;

    public bool Matches(StoredObject stored) =>
        (Namespace is null || stored.Namespace == Namespace) && Labels.Matches(stored.Labels) && Fields.Matches(stored);

    /// <summary>Converts a store event as the watch cache does for a filtered watch: an object that starts matching
    /// arrives as ADDED, one that stops matching as DELETED (its previous state at the event's revision).</summary>
    public void Offer(StoreEvent storeEvent)
    {
        var matchesNow = storeEvent.Type != StoreEventType.Deleted && Matches(storeEvent.Object);
        var matchedBefore = storeEvent.Previous is not null && Matches(storeEvent.Previous);
        if (matchesNow && matchedBefore)
        {
            Enqueue(new WatchItem("MODIFIED", storeEvent.Object, storeEvent.Revision, null));
        }
        else if (matchesNow)
        {
            Enqueue(new WatchItem("ADDED", storeEvent.Object, storeEvent.Revision, null));
        }
        else if (matchedBefore)
        {
            var gone = storeEvent.Type == StoreEventType.Deleted
                ? storeEvent.Object
                : AtRevision(storeEvent.Previous!, storeEvent.Revision);
            Enqueue(new WatchItem("DELETED", gone, storeEvent.Revision, null));
        }
    }

    public void Enqueue(WatchItem item) => items.Writer.TryWrite(item);

    /// <summary>Ends the stream after what is queued, as a server-side timeout does.</summary>
    public void Close() => items.Writer.TryComplete();

    /// <summary>Registers how to cut the connection without a clean end of stream.</summary>
    public void OnAbort(Action action) => abort = action;

    public void Abort()
    {
        abort?.Invoke();
        Close();
    }

    private static StoredObject AtRevision(StoredObject stored, long revision)
    {
        var obj = stored.ToJsonObject();
        ObjectJson.Metadata(obj)["resourceVersion"] = revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return StoredObject.Freeze(stored.Definition, obj);
    }
}
