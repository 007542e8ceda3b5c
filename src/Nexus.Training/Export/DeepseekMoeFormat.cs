using System.Text.Json.Nodes;
using Nexus.Model;
using Nexus.Model.Safetensors;

namespace Nexus.Training.Export;

/// <summary>
/// DeepSeek-MoE v1 (<c>DeepseekForCausalLM</c>, model_type "deepseek": remote code in transformers, native in
/// vLLM). Its MoE block is ours term for term: softmax scores, top-k without renormalisation (norm_topk_prob false),
/// and n_shared_experts ungated shared experts of width moe_intermediate_size · n_shared_experts, added as they are.
/// </summary>
internal sealed class DeepseekMoeFormat : HfMoeFormat
{
    /// <summary>transformers fetches the modelling code from the original release when loading with trust_remote_code.</summary>
    private const string RemoteCode = "deepseek-ai/deepseek-moe-16b-base--";

    public override string Name => "deepseek-moe";

    public override JsonObject Config(NexusMoeConfig config, SafetensorsDtype dtype)
    {
        var json = CommonConfig(config, dtype, "DeepseekForCausalLM", "deepseek");
        json["auto_map"] = new JsonObject
        {
            ["AutoConfig"] = RemoteCode + "configuration_deepseek.DeepseekConfig",
            ["AutoModel"] = RemoteCode + "modeling_deepseek.DeepseekModel",
            ["AutoModelForCausalLM"] = RemoteCode + "modeling_deepseek.DeepseekForCausalLM",
        };
        json["n_routed_experts"] = config.NumExperts;
        json["n_shared_experts"] = 1;
        json["num_experts_per_tok"] = config.NumExpertsPerToken;
        json["moe_intermediate_size"] = config.IntermediateSize;
        json["first_k_dense_replace"] = 0;
        json["moe_layer_freq"] = 1;
        json["scoring_func"] = "softmax";
        json["norm_topk_prob"] = false;
        json["aux_loss_alpha"] = config.RouterAuxLossCoefficient;
        // Our load-balancing loss is Switch's, over all tokens of the batch, not DeepSeek's per-sequence variant.
        json["seq_aux"] = false;
        json["attention_bias"] = false;
        json["pretraining_tp"] = 1;
        return json;
    }

    protected override IEnumerable<ExportTensor> Moe(NexusMoeConfig config, string prefix)
    {
        yield return RouterGate(config, prefix);
        foreach (var tensor in RoutedExperts(config, prefix)) yield return tensor;
        foreach (var tensor in Ffn(config, prefix + "shared_experts.", prefix + "shared_expert.")) yield return tensor;
    }
}
