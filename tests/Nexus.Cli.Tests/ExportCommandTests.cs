using Nexus.Model;
using Nexus.Model.Tests.Tokenization;
using Nexus.Model.Tokenization;
using static TorchSharp.torch;

using static Nexus.Cli.Tests.CliRun;

namespace Nexus.Cli.Tests;

public sealed class ExportCommandTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-cli-export-" + Guid.NewGuid().ToString("N"));

    public ExportCommandTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>A tiny MoE with the byte tokenizer, or with a Hugging Face tokenizer.json (a tiny BPE).</summary>
    private string SaveMoe(bool hfTokenizer = false)
    {
        var dense = hfTokenizer ? LlamaConfig.Preset("tiny") with { VocabSize = TinyBpeFiles.VocabSize } : LlamaConfig.Preset("tiny");
        var config = NexusMoeConfig.FromDense(dense, ["law", "code", "poems"], RouterKind.Nexus, domainEmbeddingSize: 8);
        using var model = new NexusMoeForCausalLM(config);
        using (no_grad()) foreach (var (_, tensor) in model.state_dict()) tensor.normal_(0, 0.1);
        var path = Path.Combine(directory, hfTokenizer ? "moe-bpe" : "moe");
        ModelCheckpoint.Save(model, path, hfTokenizer ? staging => TinyBpeFiles.Write(staging, TinyBpeFiles.Document()) : TokenizerFiles.SaveByte);
        return path;
    }

    [Fact]
    public void ExportsAQwen2MoeFolder()
    {
        var output = Path.Combine(directory, "hf");
        var result = Invoke("export", "--model", SaveMoe(), "--format", "qwen2-moe", "--out", output, "--dtype", "bf16");
        AssertSuccess(result);
        Assert.Contains("Exported 3 experts (top-1, nexus router) × 2 layers as qwen2-moe", result.Out);
        Assert.Contains("\"model_type\": \"qwen2_moe\"", File.ReadAllText(Path.Combine(output, "config.json")));
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(output, TokenizerFiles.NexusFileName)));
    }

    [Fact]
    public void RequireHfTokenizer_RefusesAByteTokenizerModel_AndPassesOneWithTokenizerJson()
    {
        var moe = SaveMoe();
        var output = Path.Combine(directory, "hf");

        AssertOneLineError(Invoke("export", "--model", moe, "--format", "qwen2-moe", "--out", output, "--require-hf-tokenizer"),
            $"--require-hf-tokenizer: the model has only {TokenizerFiles.NexusFileName} (the byte tokenizer), no tokenizer.json");
        Assert.False(Directory.Exists(output));

        AssertSuccess(Invoke("export", "--model", SaveMoe(hfTokenizer: true), "--format", "qwen2-moe", "--out", output, "--require-hf-tokenizer"));
        Assert.True(File.Exists(Path.Combine(output, HuggingFaceTokenizer.FileName)));
    }

    [Fact]
    public void BadInputIsOneLineWithExitCode2()
    {
        var moe = SaveMoe();
        var output = Path.Combine(directory, "hf");
        AssertOneLineError(Invoke("export", "--model", moe, "--format", "mixtral", "--out", output),
            "Unknown export format 'mixtral': use qwen2-moe or deepseek-moe.");
        AssertOneLineError(Invoke("export", "--model", Path.Combine(directory, "missing"), "--format", "qwen2-moe", "--out", output),
            "does not exist");
        AssertOneLineError(Invoke("export", "--model", moe, "--format", "deepseek-moe", "--out", output, "--dtype", "int8"),
            "Unknown dtype 'int8'");

        var dense = Path.Combine(directory, "dense");
        using (var model = new LlamaForCausalLM(LlamaConfig.Preset("tiny"))) ModelCheckpoint.Save(model, dense, TokenizerFiles.SaveByte);
        AssertOneLineError(Invoke("export", "--model", dense, "--format", "qwen2-moe", "--out", output),
            "export needs a Nexus MoE; dense checkpoints are already Llama");
        Assert.False(Directory.Exists(output));
    }
}
