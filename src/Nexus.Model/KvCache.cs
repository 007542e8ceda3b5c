using static TorchSharp.torch;

namespace Nexus.Model;

/// <summary>
/// Keys and values of every layer for the tokens seen so far, preallocated to a capacity so decoding a
/// token writes one slice per layer instead of concatenating.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly LayerCache[] layers;

    public KvCache(LlamaConfig config, long batch, long capacity, ScalarType dtype, Device device)
    {
        Capacity = capacity;
        layers = Enumerable.Range(0, config.NumHiddenLayers)
            .Select(_ => new LayerCache(batch, config.NumKeyValueHeads, capacity, config.HeadDim, dtype, device))
            .ToArray();
    }

    /// <summary>A cache over existing storage: one slot of a <see cref="BatchKvCache"/>.</summary>
    internal KvCache(LayerCache[] layers, long capacity)
    {
        Capacity = capacity;
        this.layers = layers;
    }

    /// <summary>Tokens held (P).</summary>
    public long Length { get; private set; }

    public long Capacity { get; }

    internal LayerCache Layer(int index) => layers[index];

    internal void Advance(long tokens) => Length += tokens;

    public void Reset() => Length = 0;

    public void Dispose()
    {
        foreach (var layer in layers) layer.Dispose();
    }
}

public sealed class LayerCache : IDisposable
{
    private readonly Tensor keys;   // [B, K, capacity, D]
    private readonly Tensor values;

    internal LayerCache(long batch, long kvHeads, long capacity, long headDim, ScalarType dtype, Device device)
    {
        keys = zeros([batch, kvHeads, capacity, headDim], dtype, device);
        values = zeros([batch, kvHeads, capacity, headDim], dtype, device);
    }

    /// <summary>Over existing storage (views into a larger cache), which it then owns only as views.</summary>
    internal LayerCache(Tensor keys, Tensor values)
    {
        this.keys = keys;
        this.values = values;
    }

    /// <summary>Stores k, v [B, K, T, D] at positions past..past+T and returns all keys and values so far.</summary>
    internal (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v, long past)
    {
        var t = k.shape[2];
        if (past + t > keys.shape[2])
            throw new InvalidOperationException($"KV cache is full: {past + t} tokens exceed its capacity of {keys.shape[2]}.");
        keys.narrow(2, past, t).copy_(k);
        values.narrow(2, past, t).copy_(v);
        return (keys.narrow(2, 0, past + t), values.narrow(2, 0, past + t));
    }

    public void Dispose()
    {
        keys.Dispose();
        values.Dispose();
    }
}
