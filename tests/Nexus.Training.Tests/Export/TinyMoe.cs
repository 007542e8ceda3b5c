using Nexus.Model;
using Nexus.Model.Tokenization;
using static TorchSharp.torch;

namespace Nexus.Training.Tests.Export;

/// <summary>Small Nexus MoEs with random weights whose routers actually spread tokens over the experts.</summary>
internal static class TinyMoe
{
    public static readonly string[] ExpertNames = ["law", "code", "poems", "medicine"];

    public static NexusMoeConfig Config(RouterKind router, int topK, bool tied, int? headDim = null) =>
        NexusMoeConfig.FromDense(
            LlamaConfig.Preset("tiny") with { TieWordEmbeddings = tied, MaxPositionEmbeddings = 64, HeadDimOverride = headDim },
            ExpertNames, router, domainEmbeddingSize: 12, routerProjectionSize: 24, topK: topK);

    /// <summary>
    /// Random weights: N(0, 0.3) like the dense model tests, norms in [0.5, 1.5], distinct N(0, 1) domain
    /// embeddings, and router scales chosen so that logits are O(1): peaked enough for clear top-k choices, flat
    /// enough that every expert gets tokens and second choices carry weight.
    /// </summary>
    public static NexusMoeForCausalLM Create(NexusMoeConfig config, long seed)
    {
        var model = new NexusMoeForCausalLM(config);
        using (no_grad())
        {
            var generator = new Generator((ulong)seed);
            foreach (var (name, tensor) in model.state_dict())
            {
                if (name.EndsWith("norm.weight", StringComparison.Ordinal)) tensor.uniform_(0.5, 1.5, generator);
                else if (name.EndsWith("router.domain_embeddings", StringComparison.Ordinal)) tensor.normal_(0, 1.0, generator);
                else if (name.EndsWith("router.down_proj.weight", StringComparison.Ordinal)) tensor.normal_(0, 0.08, generator);
                else if (name.EndsWith("router.weight", StringComparison.Ordinal)) tensor.normal_(0, 0.2, generator);
                else tensor.normal_(0, 0.3, generator);
            }
        }
        model.eval();
        return model;
    }

    /// <summary>Saves config, weights and the byte tokenizer the way our pipeline does.</summary>
    public static string Save(NexusMoeForCausalLM model, string directory)
    {
        Directory.CreateDirectory(directory);
        model.Config.Save(Path.Combine(directory, ModelCheckpoint.ConfigFile));
        ModelWeights.Save(model, Path.Combine(directory, ModelCheckpoint.WeightsFile));
        TokenizerFiles.SaveByte(directory);
        return directory;
    }

    public static long[][] RandomIds(int batch, int length, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, length).Select(_ => (long)random.Next(vocab)).ToArray()).ToArray();
    }
}
