using Nexus.Model;
using Nexus.Model.Tokenization;
using TorchSharp;

namespace Nexus.Bench;

/// <summary>
/// The two randomly initialised model folders the serving benchmark serves: a Nexus MoE shaped as our upcycled
/// models are (a shared expert plus routed experts, top-k, Nexus router) and a dense Llama with the same active
/// parameters per token. Latency needs no training, only the shapes; the folders are written with the project's own
/// <see cref="ModelCheckpoint.Save"/> and the byte tokenizer.
/// </summary>
public static class ServeModels
{
    /// <summary>First and last token the models can emit: printable ASCII, one byte and so one SSE chunk per token.</summary>
    public const int FirstEmitted = 32, LastEmitted = 126;

    /// <summary>The MoE: <paramref name="dense"/>'s shapes with <paramref name="experts"/> routed experts, top-<paramref name="topK"/>.</summary>
    public static NexusMoeConfig Moe(LlamaConfig dense, int experts, int topK) =>
        NexusMoeConfig.FromDense(dense, Enumerable.Range(0, experts).Select(e => $"domain{e}").ToArray(), RouterKind.Nexus,
            domainEmbeddingSize: dense.HiddenSize, topK: topK);

    /// <summary>
    /// The dense model of the same active size as <paramref name="moe"/>: one FFN as wide as the shared expert and the
    /// k routed experts a token goes through together ((1 + k) · intermediate_size), so the FFN's multiply-adds per token
    /// are equal; attention, embeddings and norms are the same shapes. What the MoE does on top per token is the router:
    /// with E precomputed for inference, one [experts × hidden] product per layer (<see cref="ActiveParameters"/>).
    /// </summary>
    public static LlamaConfig MatchingDense(NexusMoeConfig moe) => new()
    {
        VocabSize = moe.VocabSize, HiddenSize = moe.HiddenSize, IntermediateSize = (1 + moe.NumExpertsPerToken) * moe.IntermediateSize,
        NumHiddenLayers = moe.NumHiddenLayers, NumAttentionHeads = moe.NumAttentionHeads, NumKeyValueHeads = moe.NumKeyValueHeads,
        HeadDimOverride = moe.HeadDimOverride, RmsNormEps = moe.RmsNormEps, RopeTheta = moe.RopeTheta,
        MaxPositionEmbeddings = moe.MaxPositionEmbeddings, TieWordEmbeddings = moe.TieWordEmbeddings,
        BosTokenId = moe.BosTokenId, EosTokenId = moe.EosTokenId,
    };

    /// <summary>
    /// Parameters one token goes through at inference. Dense: all of them. MoE: everything but the FFNs and routers,
    /// plus per layer the shared expert, k routed experts and the router's precomputed E [experts, hidden] (the router's
    /// projection of the domain embeddings runs once at load, not per token).
    /// </summary>
    public static long ActiveParameters(LlamaConfig config)
    {
        if (config is not NexusMoeConfig moe) return config.ParameterCount();
        long h = moe.HiddenSize, ffn = 3L * h * moe.IntermediateSize;
        var attentionEmbeddingsNorms = moe.ParameterShapes()
            .Where(p => !p.Name.Contains(".mlp.", StringComparison.Ordinal))
            .Sum(p => p.Shape.Aggregate(1L, (a, b) => a * b));
        return attentionEmbeddingsNorms + moe.NumHiddenLayers * ((1 + moe.NumExpertsPerToken) * ffn + moe.NumExperts * h);
    }

    /// <summary>Writes <c>moe/</c> and <c>dense/</c> under --out; prints their shapes and parameter counts.</summary>
    public static Dictionary<string, object> Run(BenchArguments arguments)
    {
        var output = arguments.Get("out", "");
        if (output.Length == 0) throw new ArgumentException("serve-models needs --out DIR, the folder to write moe/ and dense/ into.");
        var dense = new LlamaConfig
        {
            HiddenSize = arguments.GetInt("hidden", 512), IntermediateSize = arguments.GetInt("intermediate", 768),
            NumHiddenLayers = arguments.GetInt("layers", 8), NumAttentionHeads = arguments.GetInt("heads", 8),
            NumKeyValueHeads = arguments.GetInt("kv-heads", 4), MaxPositionEmbeddings = arguments.GetInt("context", 1024),
            TieWordEmbeddings = false,
        };
        var moe = Moe(dense, arguments.GetInt("experts", 4), arguments.GetInt("top-k", 2));
        var matching = MatchingDense(moe);
        var seed = arguments.GetInt("seed", 0);
        Save(new NexusMoeForCausalLM(moe), Path.Combine(output, "moe"), seed);
        Save(new LlamaForCausalLM(matching), Path.Combine(output, "dense"), seed);
        return new Dictionary<string, object>
        {
            ["moe"] = Describe(moe),
            ["dense"] = Describe(matching),
        };
    }

    private static Dictionary<string, object> Describe(LlamaConfig config) => new()
    {
        ["hidden"] = config.HiddenSize, ["intermediate"] = config.IntermediateSize, ["layers"] = config.NumHiddenLayers,
        ["heads"] = config.NumAttentionHeads, ["kv_heads"] = config.NumKeyValueHeads, ["context"] = config.MaxPositionEmbeddings,
        ["experts"] = (config as NexusMoeConfig)?.NumExperts ?? 0, ["top_k"] = (config as NexusMoeConfig)?.NumExpertsPerToken ?? 0,
        ["parameters"] = config.ParameterCount(), ["active_parameters"] = ActiveParameters(config),
    };

    /// <summary>
    /// HF's initialisation, random domain embeddings (zeros would route every token to the first k experts), and an
    /// output head whose rows are zero outside printable ASCII: those logits are exactly 0 while the printable ones are
    /// random, so greedy decoding never ends early on EOS and emits one whole UTF-8 character (one chunk) per token.
    /// </summary>
    private static void Save(CausalLanguageModel model, string directory, long seed)
    {
        using (model)
        {
            torch.manual_seed(seed);
            model.InitializeWeights(seed);
            using (torch.no_grad())
            {
                var generator = new torch.Generator((ulong)seed + 1);
                foreach (var (name, buffer) in model.named_buffers())
                    if (name.EndsWith("domain_embeddings", StringComparison.Ordinal)) buffer.normal_(0, 1, generator);
                var head = model.named_parameters().Single(p => p.name == "lm_head.weight").parameter;
                head.narrow(0, 0, FirstEmitted).zero_();
                head.narrow(0, LastEmitted + 1, head.shape[0] - LastEmitted - 1).zero_();
            }
            ModelCheckpoint.Save(model, directory, TokenizerFiles.SaveByte);
        }
    }
}
