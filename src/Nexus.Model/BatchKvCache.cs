using static TorchSharp.torch;

namespace Nexus.Model;

/// <summary>
/// Keys and values for up to <see cref="Slots"/> independent sequences, each in its own slot with its own
/// length, preallocated to a capacity per slot. A sequence takes a slot, is prefilled into it
/// (<see cref="CausalLanguageModel.Prefill"/>), advances one token per batched step
/// (<see cref="CausalLanguageModel.Decode"/>) alongside the other slots whatever their positions, and
/// releases it, after which the slot can be taken again at once. This is what continuous batching needs:
/// sequences join and leave the running batch between steps.
/// </summary>
public sealed class BatchKvCache : IDisposable
{
    private readonly BatchLayerCache[] layers;
    private readonly KvCache[] slots;   // each slot's view of the storage, holding that slot's length
    private readonly bool[] taken;

    public BatchKvCache(LlamaConfig config, int slots, long capacity, ScalarType dtype, Device device)
    {
        if (slots < 1) throw new ArgumentOutOfRangeException(nameof(slots), $"A batch cache needs at least one slot (got {slots}).");
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), $"A batch cache's capacity must be at least one token (got {capacity}).");
        Capacity = capacity;
        layers = Enumerable.Range(0, config.NumHiddenLayers)
            .Select(_ => new BatchLayerCache(slots, config.NumKeyValueHeads, capacity, config.HeadDim, dtype, device))
            .ToArray();
        this.slots = Enumerable.Range(0, slots)
            .Select(slot => new KvCache(layers.Select(layer => layer.SlotView(slot)).ToArray(), capacity))
            .ToArray();
        taken = new bool[slots];
    }

    public int Slots => slots.Length;

    /// <summary>Tokens each slot can hold.</summary>
    public long Capacity { get; }

    public int FreeSlots => taken.Count(t => !t);

    public bool IsTaken(int slot) => taken[CheckRange(slot)];

    /// <summary>Tokens held in <paramref name="slot"/>: the position its next token takes.</summary>
    public long Length(int slot) => slots[CheckRange(slot)].Length;

    /// <summary>Takes the lowest free slot, empty, and returns its index.</summary>
    public int Take()
    {
        var slot = Array.IndexOf(taken, false);
        if (slot < 0)
            throw new InvalidOperationException($"All {Slots} slots of the batch cache are taken; release one before taking another.");
        taken[slot] = true;
        slots[slot].Reset();
        return slot;
    }

    /// <summary>Frees <paramref name="slot"/> for reuse; its keys and values are simply overwritten by the next taker.</summary>
    public void Release(int slot)
    {
        if (!IsTaken(slot)) throw new InvalidOperationException($"Slot {slot} is not taken, so it cannot be released.");
        taken[slot] = false;
        slots[slot].Reset();
    }

    /// <summary>The single-sequence cache over one taken slot, for a prefill through the ordinary path.</summary>
    internal KvCache Slot(int slot)
    {
        if (!IsTaken(slot)) throw new InvalidOperationException($"Slot {slot} is not taken; take it (BatchKvCache.Take) before filling it.");
        return slots[slot];
    }

    internal BatchLayerCache Layer(int index) => layers[index];

    /// <summary>Throws unless each slot can hold <paramref name="tokens"/> more.</summary>
    internal void EnsureRoom(int slot, long tokens)
    {
        var length = Length(slot);
        if (length + tokens > Capacity)
            throw new InvalidOperationException(
                $"KV cache slot {slot} is full: {length} tokens held plus {tokens} new exceed its capacity of {Capacity} tokens. " +
                "Release the slot, or create the cache with a larger capacity.");
    }

    /// <summary>Validates one decode step's slots and describes the rows for the layers.</summary>
    internal DecodeRows Rows(IReadOnlyList<int> rowSlots, Device device)
    {
        if (rowSlots.Count == 0) throw new ArgumentException("A decode step needs at least one slot.", nameof(rowSlots));
        var seen = new HashSet<int>();
        var positions = new long[rowSlots.Count];
        for (var i = 0; i < rowSlots.Count; i++)
        {
            var slot = rowSlots[i];
            if (!IsTaken(slot)) throw new InvalidOperationException($"Slot {slot} is not taken; take and prefill it before decoding.");
            if (!seen.Add(slot)) throw new ArgumentException($"Slot {slot} appears twice in one decode step; give each slot one token.", nameof(rowSlots));
            EnsureRoom(slot, 1);
            positions[i] = Length(slot);
        }
        return new DecodeRows(rowSlots.Select(s => (long)s).ToArray(), positions, device);
    }

    /// <summary>Counts the token each row's slot received in a decode step.</summary>
    internal void Advance(IReadOnlyList<int> rowSlots)
    {
        foreach (var slot in rowSlots) slots[slot].Advance(1);
    }

    private int CheckRange(int slot) =>
        slot >= 0 && slot < slots.Length
            ? slot
            : throw new ArgumentOutOfRangeException(nameof(slot), $"Slot {slot} does not exist; the batch cache has slots 0 to {slots.Length - 1}.");

    public void Dispose()
    {
        foreach (var slot in slots) slot.Dispose();
        foreach (var layer in layers) layer.Dispose();
    }
}

/// <summary>
/// The rows of one decode step: row i is slot Slots[i] whose new token sits at Positions[i], so it attends
/// keys 0..Positions[i] of its slot. Keys are gathered up to the longest row (Attended); Mask hides the tail
/// of the shorter ones.
/// </summary>
internal sealed class DecodeRows
{
    public DecodeRows(long[] slots, long[] positions, Device device)
    {
        SlotIds = slots;
        Slots = tensor(slots, device: device);
        Positions = tensor(positions, device: device);
        Attended = positions.Max() + 1;
        Contiguous = slots.Zip(slots.Skip(1)).All(p => p.Second == p.First + 1);
        Mask = arange(Attended, device: device).unsqueeze(0).le(Positions.unsqueeze(1)).view(slots.Length, 1, 1, Attended);
    }

    public long[] SlotIds { get; }
    public Tensor Slots { get; }      // [n]
    public Tensor Positions { get; }  // [n]
    public long Attended { get; }
    /// <summary>The slots are consecutive and ascending, so the rows are a narrow of the cache (no gather).</summary>
    public bool Contiguous { get; }
    public Tensor Mask { get; }       // [n, 1, 1, Attended], true where the row may attend
}

/// <summary>One layer's keys and values for every slot: [slots, K, capacity, D].</summary>
internal sealed class BatchLayerCache : IDisposable
{
    private readonly Tensor keys;
    private readonly Tensor values;

    public BatchLayerCache(long slots, long kvHeads, long capacity, long headDim, ScalarType dtype, Device device)
    {
        keys = zeros([slots, kvHeads, capacity, headDim], dtype, device);
        values = zeros([slots, kvHeads, capacity, headDim], dtype, device);
    }

    /// <summary>A single-sequence layer cache over one slot's storage.</summary>
    public LayerCache SlotView(long slot) => new(keys.narrow(0, slot, 1), values.narrow(0, slot, 1));

    /// <summary>
    /// Stores each row's new key and value, k, v [n, K, 1, D], at its slot and position, and returns each
    /// row's keys and values so far, [n, K, Attended, D] (positions past a row's own are stale; mask them).
    /// </summary>
    public (Tensor Keys, Tensor Values) Write(Tensor k, Tensor v, DecodeRows rows)
    {
        // Advanced indices split by a slice put their dimension first: the target is [n, K, D].
        var at = new[] { TensorIndex.Tensor(rows.Slots), TensorIndex.Colon, TensorIndex.Tensor(rows.Positions) };
        keys.index_put_(k.squeeze(2), at);
        values.index_put_(v.squeeze(2), at);
        var pastKeys = keys.narrow(2, 0, rows.Attended);
        var pastValues = values.narrow(2, 0, rows.Attended);
        if (rows.Contiguous)
            return (pastKeys.narrow(0, rows.SlotIds[0], rows.SlotIds.Length), pastValues.narrow(0, rows.SlotIds[0], rows.SlotIds.Length));
        return (pastKeys.index_select(0, rows.Slots), pastValues.index_select(0, rows.Slots));
    }

    public void Dispose()
    {
        keys.Dispose();
        values.Dispose();
    }
}
