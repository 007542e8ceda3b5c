using System.Text.Json.Nodes;
using Nexus.Model;
using Nexus.Model.Safetensors;

namespace Nexus.Training.Export;

/// <summary>
/// Qwen2-MoE (<c>Qwen2MoeForCausalLM</c>, native in transformers and vLLM). Its MoE block computes
/// y = Σ gᵢ · expertᵢ(x) + sigmoid(shared_expert_gate · x) · shared_expert(x), with g the softmax top-k
/// probabilities (renormalised only when norm_topk_prob). A zero shared_expert_gate gives sigmoid(0) = ½, so the
/// shared expert's down_proj is doubled; ×2 and ×½ are exact in floating point. Its attention has q/k/v biases,
/// written as zeros.
/// </summary>
internal sealed class Qwen2MoeFormat : HfMoeFormat
{
    public override string Name => "qwen2-moe";

    public override JsonObject Config(NexusMoeConfig config, SafetensorsDtype dtype)
    {
        var json = CommonConfig(config, dtype, "Qwen2MoeForCausalLM", "qwen2_moe");
        json["num_experts"] = config.NumExperts;
        json["num_experts_per_tok"] = config.NumExpertsPerToken;
        json["norm_topk_prob"] = false;
        json["moe_intermediate_size"] = config.IntermediateSize;
        json["shared_expert_intermediate_size"] = config.IntermediateSize;
        json["decoder_sparse_step"] = 1;
        json["mlp_only_layers"] = new JsonArray();
        json["router_aux_loss_coef"] = config.RouterAuxLossCoefficient;
        json["output_router_logits"] = false;
        json["qkv_bias"] = true;
        json["use_sliding_window"] = false;
        json["sliding_window"] = null;
        json["max_window_layers"] = config.NumHiddenLayers;
        return json;
    }

    protected override IEnumerable<ExportTensor> Attention(NexusMoeConfig config, string prefix)
    {
        var (h, q, kv) = AttentionSizes(config);
        foreach (var (projection, rows) in new[] { ("q_proj", q), ("k_proj", kv), ("v_proj", kv) })
        {
            yield return Copied(prefix + projection + ".weight", [rows, h]);
            yield return new ExportTensor(prefix + projection + ".bias", [rows], new TensorSource.Zeros());
        }
        yield return Copied(prefix + "o_proj.weight", [h, q]);
    }

    protected override IEnumerable<ExportTensor> Moe(NexusMoeConfig config, string prefix)
    {
        yield return RouterGate(config, prefix);
        foreach (var tensor in RoutedExperts(config, prefix)) yield return tensor;
        foreach (var tensor in Ffn(config, prefix + "shared_expert.", prefix + "shared_expert.", downScale: 2)) yield return tensor;
        yield return new ExportTensor(prefix + "shared_expert_gate.weight", [1, config.HiddenSize], new TensorSource.Zeros());
    }
}
