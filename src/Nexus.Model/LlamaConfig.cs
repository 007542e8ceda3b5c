using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nexus.Model;

/// <summary>
/// Architecture of a Llama-style decoder. Property names are Hugging Face's <c>LlamaConfig</c> keys, so a
/// <c>config.json</c> from the Hub loads as is and ours loads in <c>transformers</c>.
/// </summary>
public record LlamaConfig
{
    [JsonPropertyName("architectures")] public string[] Architectures { get; init; } = ["LlamaForCausalLM"];
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "llama";
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 258;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 256;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 688;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 4;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 4;
    [JsonPropertyName("num_key_value_heads")] public int NumKeyValueHeads { get; init; } = 2;

    /// <summary>Per-head width; HF derives it as hidden_size / num_attention_heads when absent.</summary>
    [JsonPropertyName("head_dim")] public int? HeadDimOverride { get; init; }

    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-5;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 512;
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; } = true;
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; init; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; } = 256;
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; init; } = 257;
    [JsonPropertyName("torch_dtype")] public string TorchDtype { get; init; } = "float32";
    [JsonPropertyName("rope_scaling")] public JsonElement? RopeScaling { get; init; }

    /// <summary>Keys this type does not model are kept, so a config read and written again loses nothing.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; init; }

    [JsonIgnore] public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;

    /// <summary>Named sizes used by the CLI, tests and benchmarks (byte vocabulary).</summary>
    public static LlamaConfig Preset(string name) => name switch
    {
        // ~0.1M parameters: unit tests.
        "tiny" => new LlamaConfig { HiddenSize = 64, IntermediateSize = 176, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 256 },
        // ~0.8M parameters: the quick demo.
        "small" => new LlamaConfig { HiddenSize = 128, IntermediateSize = 352, NumHiddenLayers = 4, NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 512 },
        // ~3M parameters.
        "3m" => new LlamaConfig { HiddenSize = 256, IntermediateSize = 688, NumHiddenLayers = 4, NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 512 },
        // ~25M parameters.
        "25m" => new LlamaConfig { HiddenSize = 512, IntermediateSize = 1536, NumHiddenLayers = 8, NumAttentionHeads = 8, NumKeyValueHeads = 4, MaxPositionEmbeddings = 1024 },
        _ => throw new ArgumentException($"Unknown model preset '{name}'. Use one of: {string.Join(", ", PresetNames)}, or pass a config.json."),
    };

    public static IReadOnlyList<string> PresetNames { get; } = ["tiny", "small", "3m", "25m"];

    /// <summary>Every parameter of the model, HF name → shape, in checkpoint order.</summary>
    public IEnumerable<(string Name, long[] Shape)> ParameterShapes()
    {
        long h = HiddenSize, kv = (long)NumKeyValueHeads * HeadDim, q = (long)NumAttentionHeads * HeadDim, i = IntermediateSize;
        yield return ("model.embed_tokens.weight", [VocabSize, h]);
        for (var l = 0; l < NumHiddenLayers; l++)
        {
            var p = $"model.layers.{l}.";
            yield return (p + "input_layernorm.weight", [h]);
            yield return (p + "self_attn.q_proj.weight", [q, h]);
            yield return (p + "self_attn.k_proj.weight", [kv, h]);
            yield return (p + "self_attn.v_proj.weight", [kv, h]);
            yield return (p + "self_attn.o_proj.weight", [h, q]);
            yield return (p + "post_attention_layernorm.weight", [h]);
            yield return (p + "mlp.gate_proj.weight", [i, h]);
            yield return (p + "mlp.up_proj.weight", [i, h]);
            yield return (p + "mlp.down_proj.weight", [h, i]);
        }
        yield return ("model.norm.weight", [h]);
        if (!TieWordEmbeddings) yield return ("lm_head.weight", [VocabSize, h]);
    }

    public virtual long ParameterCount() => ParameterShapes().Sum(p => p.Shape.Aggregate(1L, (a, b) => a * b));

    /// <summary>Throws <see cref="InvalidModelConfigException"/> naming the first key that is out of range.</summary>
    public virtual void Validate()
    {
        Require(VocabSize > 0, "vocab_size", "must be positive");
        Require(HiddenSize > 0, "hidden_size", "must be positive");
        Require(IntermediateSize > 0, "intermediate_size", "must be positive");
        Require(NumHiddenLayers > 0, "num_hidden_layers", "must be positive");
        Require(NumAttentionHeads > 0, "num_attention_heads", "must be positive");
        Require(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0, "num_key_value_heads",
            $"must be positive and divide num_attention_heads ({NumAttentionHeads})");
        Require(HeadDimOverride is not null || HiddenSize % NumAttentionHeads == 0, "hidden_size",
            $"must be a multiple of num_attention_heads ({NumAttentionHeads}) unless head_dim is given");
        Require(HeadDim > 0 && HeadDim % 2 == 0, "head_dim", "must be positive and even (rotary embeddings rotate pairs)");
        Require(RmsNormEps > 0, "rms_norm_eps", "must be positive");
        Require(RopeTheta > 0, "rope_theta", "must be positive");
        Require(MaxPositionEmbeddings > 0, "max_position_embeddings", "must be positive");
        Require(HiddenAct == "silu", "hidden_act", $"is '{HiddenAct}'; only 'silu' (SwiGLU) is supported");
        Require(!AttentionBias, "attention_bias", "is true; biased attention projections are not supported");
        Require(!MlpBias, "mlp_bias", "is true; biased MLP projections are not supported");
        Require(RopeScaling is null || RopeScaling.Value.ValueKind == JsonValueKind.Null, "rope_scaling",
            "is set; scaled rotary embeddings are not supported");
    }

    protected static void Require(bool condition, string key, string problem)
    {
        if (!condition) throw new InvalidModelConfigException($"config.json: {key} {problem}.");
    }

    protected static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, GetType(), JsonOptions);

    public static LlamaConfig FromJson(string json, string source = "config.json") => Parse<LlamaConfig>(json, source, "llama", "Llama");

    public static LlamaConfig Load(string path) => Parse<LlamaConfig>(ReadConfig(path), path, "llama", "Llama");

    /// <summary>Deserialises, checks model_type, validates: every failure names the file and the key.</summary>
    protected static T Parse<T>(string json, string source, string modelType, string description) where T : LlamaConfig
    {
        T? config;
        try
        {
            config = JsonSerializer.Deserialize<T>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidModelConfigException($"{source}: not a valid {description} config ({e.Message}).");
        }
        if (config is null) throw new InvalidModelConfigException($"{source}: empty config.");
        if (config.ModelType != modelType)
            throw new InvalidModelConfigException($"{source}: model_type is '{config.ModelType}'; a {description} config has '{modelType}'.");
        config.Validate();
        return config;
    }

    protected static string ReadConfig(string path) =>
        File.Exists(path) ? File.ReadAllText(path) : throw new FileNotFoundException($"No config.json at {path}.", path);

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());
}

public sealed class InvalidModelConfigException(string message) : Exception(message);
