using System.Text.Json.Nodes;
using Nexus.Model;

namespace Nexus.Model.Tests;

public class LlamaConfigTests
{
    [Fact]
    public void RoundTripsWithHuggingFaceKeys()
    {
        var config = LlamaConfig.Preset("3m") with { TieWordEmbeddings = false, RopeTheta = 500000 };
        var json = JsonNode.Parse(config.ToJson())!.AsObject();
        foreach (var key in new[] { "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                     "rms_norm_eps", "rope_theta", "vocab_size", "max_position_embeddings", "tie_word_embeddings", "model_type", "architectures" })
            Assert.True(json.ContainsKey(key), $"config.json lacks {key}");
        Assert.Equal(256, (int)json["hidden_size"]!);
        Assert.Equal("LlamaForCausalLM", (string)json["architectures"]![0]!);

        var back = LlamaConfig.FromJson(config.ToJson());
        Assert.Equal(config.ToJson(), back.ToJson());
    }

    [Fact]
    public void ReadsAHubConfigAndKeepsUnknownKeys()
    {
        const string hub = """
        {
          "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
          "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
          "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "vocab_size": 128256, "max_position_embeddings": 131072,
          "tie_word_embeddings": true, "hidden_act": "silu", "bos_token_id": 128000, "eos_token_id": 128001,
          "torch_dtype": "bfloat16", "initializer_range": 0.02, "use_cache": true, "pretraining_tp": 1
        }
        """;
        var config = LlamaConfig.FromJson(hub);
        Assert.Equal(2048, config.HiddenSize);
        Assert.Equal(8, config.NumKeyValueHeads);
        Assert.Equal(64, config.HeadDim);
        Assert.Equal(128256, config.VocabSize);
        var written = JsonNode.Parse(config.ToJson())!.AsObject();
        Assert.Equal(0.02, (double)written["initializer_range"]!);
        Assert.Equal(1, (int)written["pretraining_tp"]!);
    }

    [Theory]
    [InlineData("""{"model_type":"llama","num_attention_heads":4,"num_key_value_heads":3}""", "num_key_value_heads")]
    [InlineData("""{"model_type":"llama","hidden_size":-1}""", "hidden_size")]
    [InlineData("""{"model_type":"llama","hidden_act":"gelu"}""", "hidden_act")]
    [InlineData("""{"model_type":"llama","rope_scaling":{"type":"llama3"}}""", "rope_scaling")]
    [InlineData("""{"model_type":"mistral"}""", "model_type")]
    [InlineData("""{"model_type":"llama","hidden_size":"big"}""", "not a valid Llama config")]
    [InlineData("""not json""", "not a valid Llama config")]
    public void InvalidConfigsNameTheKey(string json, string expected)
    {
        var error = Assert.Throws<InvalidModelConfigException>(() => LlamaConfig.FromJson(json));
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData("3m", 2_500_000, 3_500_000)]
    [InlineData("25m", 22_000_000, 28_000_000)]
    public void PresetsHaveTheAdvertisedSize(string preset, long min, long max)
    {
        var count = LlamaConfig.Preset(preset).ParameterCount();
        Assert.InRange(count, min, max);
    }
}
