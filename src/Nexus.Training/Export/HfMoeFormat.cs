using System.Text.Json.Nodes;
using Nexus.Model;
using Nexus.Model.Safetensors;

namespace Nexus.Training.Export;

/// <summary>
/// A Hugging Face MoE architecture that can hold a Nexus MoE exactly (DESIGN.md, "Standard export"). A format is
/// pure: from our config it decides whether the model is expressible, the target's config.json, and every target
/// tensor with its source. <see cref="HfExporter"/> does the I/O.
/// </summary>
public abstract class HfMoeFormat
{
    public static HfMoeFormat Qwen2Moe { get; } = new Qwen2MoeFormat();
    public static HfMoeFormat DeepseekMoe { get; } = new DeepseekMoeFormat();
    public static IReadOnlyList<HfMoeFormat> All { get; } = [Qwen2Moe, DeepseekMoe];

    /// <summary>The name the CLI takes: <c>qwen2-moe</c> or <c>deepseek-moe</c>.</summary>
    public abstract string Name { get; }

    public static HfMoeFormat Parse(string name) =>
        All.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown export format '{name}': use {string.Join(" or ", All.Select(f => f.Name))}.");

    /// <summary>Throws <see cref="ArgumentException"/> when the target cannot reproduce the model exactly.</summary>
    public virtual void CheckExpressible(NexusMoeConfig config)
    {
        // Both targets derive the head width as hidden_size / num_attention_heads (vLLM does too).
        var derived = config.HiddenSize / config.NumAttentionHeads;
        if (config.HiddenSize % config.NumAttentionHeads != 0 || config.HeadDim != derived)
            throw new ArgumentException(
                $"{Name} derives head_dim as hidden_size / num_attention_heads ({config.HiddenSize} / {config.NumAttentionHeads}), " +
                $"but this model has head_dim {config.HeadDim}; it cannot be exported as {Name}.");
    }

    /// <summary>The target's config.json.</summary>
    public abstract JsonObject Config(NexusMoeConfig config, SafetensorsDtype dtype);

    /// <summary>Every tensor of the target checkpoint, in Hugging Face's module order.</summary>
    public IEnumerable<ExportTensor> Tensors(NexusMoeConfig config)
    {
        long h = config.HiddenSize, vocab = config.VocabSize;
        yield return Copied("model.embed_tokens.weight", [vocab, h]);
        for (var layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            var prefix = $"model.layers.{layer}.";
            yield return Copied(prefix + "input_layernorm.weight", [h]);
            foreach (var tensor in Attention(config, prefix + "self_attn.")) yield return tensor;
            yield return Copied(prefix + "post_attention_layernorm.weight", [h]);
            foreach (var tensor in Moe(config, prefix + "mlp.")) yield return tensor;
        }
        yield return Copied("model.norm.weight", [h]);
        // A tied head stays tied (tie_word_embeddings is carried over); HF omits the copy when saving, and so do we.
        if (!config.TieWordEmbeddings) yield return Copied("lm_head.weight", [vocab, h]);
    }

    /// <summary>Attention of one layer; the default is Llama's four bias-free projections.</summary>
    protected virtual IEnumerable<ExportTensor> Attention(NexusMoeConfig config, string prefix)
    {
        var (h, q, kv) = AttentionSizes(config);
        yield return Copied(prefix + "q_proj.weight", [q, h]);
        yield return Copied(prefix + "k_proj.weight", [kv, h]);
        yield return Copied(prefix + "v_proj.weight", [kv, h]);
        yield return Copied(prefix + "o_proj.weight", [h, q]);
    }

    /// <summary>The MoE block of one layer, under <paramref name="prefix"/> (<c>model.layers.L.mlp.</c>).</summary>
    protected abstract IEnumerable<ExportTensor> Moe(NexusMoeConfig config, string prefix);

    /// <summary>
    /// The target's linear router weight [N, h]: the Nexus router's precomputed expert embeddings, or the linear
    /// router's weight as it is.
    /// </summary>
    protected static ExportTensor RouterGate(NexusMoeConfig config, string prefix)
    {
        long[] shape = [config.NumExperts, config.HiddenSize];
        return config.Router == RouterKind.Nexus
            ? new ExportTensor(prefix + "gate.weight", shape, new TensorSource.ExpertEmbeddings(prefix + "router."))
            : new ExportTensor(prefix + "gate.weight", shape, new TensorSource.Copy(prefix + "router.weight"));
    }

    /// <summary>The routed experts, copied under the same names (<c>experts.E.{gate,up,down}_proj.weight</c>).</summary>
    protected static IEnumerable<ExportTensor> RoutedExperts(NexusMoeConfig config, string prefix) =>
        Enumerable.Range(0, config.NumExperts).SelectMany(e => Ffn(config, $"{prefix}experts.{e}.", $"{prefix}experts.{e}."));

    /// <summary>A SwiGLU FFN from <paramref name="source"/> to <paramref name="target"/>, down_proj scaled.</summary>
    protected static IEnumerable<ExportTensor> Ffn(NexusMoeConfig config, string target, string source, float downScale = 1)
    {
        long h = config.HiddenSize, i = config.IntermediateSize;
        yield return new ExportTensor(target + "gate_proj.weight", [i, h], new TensorSource.Copy(source + "gate_proj.weight"));
        yield return new ExportTensor(target + "up_proj.weight", [i, h], new TensorSource.Copy(source + "up_proj.weight"));
        yield return new ExportTensor(target + "down_proj.weight", [h, i], new TensorSource.Copy(source + "down_proj.weight", downScale));
    }

    protected static ExportTensor Copied(string name, long[] shape) => new(name, shape, new TensorSource.Copy(name));

    protected static (long Hidden, long Query, long KeyValue) AttentionSizes(NexusMoeConfig config) =>
        (config.HiddenSize, (long)config.NumAttentionHeads * config.HeadDim, (long)config.NumKeyValueHeads * config.HeadDim);

    /// <summary>Keys every target shares with Llama's config.json.</summary>
    protected static JsonObject CommonConfig(NexusMoeConfig config, SafetensorsDtype dtype, string architecture, string modelType) => new()
    {
        ["architectures"] = new JsonArray(architecture),
        ["model_type"] = modelType,
        ["vocab_size"] = config.VocabSize,
        ["hidden_size"] = config.HiddenSize,
        ["intermediate_size"] = config.IntermediateSize,
        ["num_hidden_layers"] = config.NumHiddenLayers,
        ["num_attention_heads"] = config.NumAttentionHeads,
        ["num_key_value_heads"] = config.NumKeyValueHeads,
        ["hidden_act"] = config.HiddenAct,
        ["rms_norm_eps"] = config.RmsNormEps,
        ["rope_theta"] = config.RopeTheta,
        ["rope_scaling"] = null,
        ["max_position_embeddings"] = config.MaxPositionEmbeddings,
        ["tie_word_embeddings"] = config.TieWordEmbeddings,
        ["bos_token_id"] = config.BosTokenId,
        ["eos_token_id"] = config.EosTokenId,
        ["attention_dropout"] = 0.0,
        ["initializer_range"] = 0.02,
        ["use_cache"] = true,
        ["torch_dtype"] = TorchDtype(dtype),
        // Not read by either architecture; it says which routed expert is which domain.
        ["nexus_expert_names"] = new JsonArray([.. config.ExpertNames.Select(n => (JsonNode?)JsonValue.Create(n))]),
        ["nexus_router_type"] = config.RouterType,
    };

    private static string TorchDtype(SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F32 => "float32",
        SafetensorsDtype.F16 => "float16",
        SafetensorsDtype.BF16 => "bfloat16",
        _ => throw new ArgumentException($"Exports are written in f32, f16 or bf16, not {dtype.ToFormatString()}."),
    };
}
