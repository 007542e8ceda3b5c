using Nexus.Model;
using TorchSharp;

namespace Nexus.Model.Tests;

internal static class TinyModels
{
    public static LlamaConfig Config(bool tied = true, int heads = 4, int kvHeads = 2) => LlamaConfig.Preset("tiny") with
    {
        TieWordEmbeddings = tied,
        NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads,
        MaxPositionEmbeddings = 64,
    };

    public static LlamaForCausalLM Create(LlamaConfig? config = null, long seed = 7)
    {
        var model = new LlamaForCausalLM(config ?? Config());
        // Larger weights than HF's 0.02 so that attention patterns and positions matter in the logits.
        using (torch.no_grad())
        {
            var generator = new torch.Generator((ulong)seed);
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (name.EndsWith("norm.weight", StringComparison.Ordinal)) parameter.uniform_(0.5, 1.5, generator);
                else parameter.normal_(0, 0.3, generator);
            }
        }
        model.eval();
        return model;
    }

    /// <summary>A Nexus MoE of four experts, top-2, upcycled in shape from <paramref name="dense"/> (default
    /// <see cref="Config"/>), its weights random with the same large spread, ready for inference.</summary>
    public static NexusMoeForCausalLM Moe(LlamaConfig? dense = null)
    {
        var config = NexusMoeConfig.FromDense(dense ?? Config(), ["a", "b", "c", "d"], RouterKind.Nexus, domainEmbeddingSize: 12, topK: 2);
        var moe = new NexusMoeForCausalLM(config);
        using (torch.no_grad())
        {
            var generator = new torch.Generator(11);
            foreach (var (_, tensor) in moe.state_dict()) tensor.normal_(0, 0.3, generator);
        }
        moe.PrepareForInference();
        moe.eval();
        return moe;
    }

    public static torch.Tensor RandomIds(int length, int vocab, long seed, int batch = 1)
    {
        var generator = new torch.Generator((ulong)seed);
        return torch.randint(0, vocab, [batch, length], generator: generator);
    }
}
