namespace Nexus.Training.Export;

/// <summary>One tensor of an exported checkpoint: its Hugging Face name, its shape, and how it is made from ours.</summary>
public sealed record ExportTensor(string Name, long[] Shape, TensorSource Source);

/// <summary>How an exported tensor is derived from the Nexus MoE checkpoint.</summary>
public abstract record TensorSource
{
    private TensorSource() { }

    /// <summary>Our tensor <paramref name="Name"/>, multiplied by <paramref name="Scale"/> (a power of two, so exact).</summary>
    public sealed record Copy(string Name, float Scale = 1) : TensorSource;

    /// <summary>All zeros: parameters the target architecture has and our model does not (biases, the shared-expert gate).</summary>
    public sealed record Zeros : TensorSource;

    /// <summary>
    /// The Nexus router's expert embeddings E = W2 · SwiGLU(W1 · D) [N, h] of one layer, computed once; as the
    /// weight of a linear router they give exactly the logits x · Eᵀ. <paramref name="RouterPrefix"/> is e.g.
    /// <c>model.layers.0.mlp.router.</c>.
    /// </summary>
    public sealed record ExpertEmbeddings(string RouterPrefix) : TensorSource;
}
