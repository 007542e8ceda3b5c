using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Nexus.Model;
using Nexus.Model.Safetensors;
using Nexus.Model.Tests.Tokenization;
using Nexus.Model.Tokenization;
using Nexus.Storage;
using Nexus.Storage.Tests;
using Nexus.Training;
using static Nexus.Cli.Tests.CliRun;

namespace Nexus.Cli.Tests;

/// <summary><c>nexus import</c>: a dense fine-tune of the seed is copied byte for byte; anything else exits 2 naming the field.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-import-" + Guid.NewGuid().ToString("N"));

    public ImportCommandTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static LlamaConfig Tiny => LlamaConfig.Preset("tiny");

    private string Out => Path.Combine(directory, "out");

    private string Dense(string name, LlamaConfig config, long seed, SafetensorsDtype dtype = SafetensorsDtype.F32, Action<string>? tokenizer = null)
    {
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(seed);
        var path = Path.Combine(directory, name);
        ModelCheckpoint.Save(model, path, tokenizer ?? TokenizerFiles.SaveByte, dtype);
        return path;
    }

    /// <summary>A copy of a model folder with its weights rewritten tensor by tensor: each becomes what the edit returns (none, itself, others).</summary>
    private string Rewritten(string from, string name, Func<TensorEntry, byte[], (TensorSpec Spec, byte[] Bytes)[]> edit, long maxShardBytes = long.MaxValue)
    {
        var path = Path.Combine(directory, name);
        Directory.CreateDirectory(path);
        foreach (var file in Directory.GetFiles(from).Where(f => Path.GetFileName(f) != ModelCheckpoint.WeightsFile))
            File.Copy(file, Path.Combine(path, Path.GetFileName(file)));
        var tensors = new List<(TensorSpec, ReadOnlyMemory<byte>)>();
        using (var weights = SafetensorsCheckpoint.Open(from))
            foreach (var tensor in weights.Names)
                foreach (var (spec, bytes) in edit(weights.Entry(tensor), weights.GetBytes(tensor).ToArray()))
                    tensors.Add((spec, bytes));
        SafetensorsCheckpointWriter.Write(path, tensors, maxShardBytes);
        return path;
    }

    private static (TensorSpec, byte[])[] Same(TensorEntry entry, byte[] bytes) => [(new TensorSpec(entry.Name, entry.Dtype, entry.Shape), bytes)];

    private static (int Code, string Out, string Error) Import(string model, string seed, string output) =>
        Invoke("import", "--model", model, "--seed-model", seed, "--out", output);

    /// <summary>Exit 2, one line naming the field and saying what to do, and nothing written: no OUT, no staging folder beside it.</summary>
    private void AssertRefused((int Code, string Out, string Error) result, string expected)
    {
        AssertOneLineError(result, expected);
        Assert.Contains("cannot be imported as a fine-tune of the seed", result.Error);
        Assert.False(Directory.Exists(Out), "OUT was written");
        Assert.DoesNotContain(Directory.GetFileSystemEntries(directory), e => Path.GetFileName(e).StartsWith(".out", StringComparison.Ordinal));
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    [Fact]
    public void ImportsAMatchingFineTuneByteForByte()
    {
        var seed = Dense("seed", Tiny, 1);
        var fineTune = Dense("ft", Tiny, 2, SafetensorsDtype.BF16); // a fine-tune may be stored in another dtype than its seed

        var result = Import(fineTune, seed, Out);

        AssertSuccess(result);
        Assert.Contains($"Imported {fineTune} as a fine-tune of {seed}", result.Out);
        foreach (var file in new[] { "config.json", "model.safetensors", TokenizerFiles.NexusFileName })
            Assert.Equal(File.ReadAllBytes(Path.Combine(fineTune, file)), File.ReadAllBytes(Path.Combine(Out, file)));
        var record = ImportRecord.Load(Path.Combine(Out, ImportRecord.FileName));
        Assert.Equal((ImportRecord.FormatName, fineTune, seed, Tiny.ParameterCount()), (record.Format, record.Source, record.Seed, record.Parameters));
        var weights = Assert.Single(record.Weights);
        Assert.Equal(("model.safetensors", new FileInfo(Path.Combine(Out, "model.safetensors")).Length, Sha256(Path.Combine(fineTune, "model.safetensors"))),
            (weights.Path, weights.Size, weights.Sha256));
        using var imported = ModelCheckpoint.LoadDense(Out);
        using var original = ModelCheckpoint.LoadDense(fineTune);
        const string tensor = "model.layers.1.mlp.down_proj.weight";
        Assert.True(imported.state_dict()[tensor].eq(original.state_dict()[tensor]).all().item<bool>());
        Assert.DoesNotContain(Directory.GetFileSystemEntries(directory), e => Path.GetFileName(e).StartsWith('.')); // no staging left behind
    }

    [Fact]
    public void ImportsAShardedFineTuneWithItsIndex()
    {
        var seed = Dense("seed", Tiny, 1);
        var sharded = Rewritten(Dense("ft", Tiny, 2), "sharded", Same, maxShardBytes: 96 * 1024);
        var shards = Directory.GetFiles(sharded, "model-*.safetensors").Select(Path.GetFileName).Order().ToList();
        Assert.True(shards.Count > 1);

        AssertSuccess(Import(sharded, seed, Out));

        var record = ImportRecord.Load(Path.Combine(Out, ImportRecord.FileName));
        Assert.Equal([SafetensorsCheckpoint.IndexFileName, .. shards], record.Weights.Select(w => w.Path));
        foreach (var file in record.Weights)
            Assert.Equal(Sha256(Path.Combine(sharded, file.Path)), Sha256(Path.Combine(Out, file.Path)));
        using var _ = ModelCheckpoint.LoadDense(Out);
    }

    [Theory]
    [InlineData("hidden_size", "is 32 there but 64 in the seed")]
    [InlineData("num_hidden_layers", "is 3 there but 2 in the seed")]
    [InlineData("vocab_size", "is 300 there but 258 in the seed")]
    [InlineData("num_key_value_heads", "is 4 there but 2 in the seed")]
    [InlineData("rope_theta", "is 500000 there but 10000 in the seed")]
    [InlineData("tie_word_embeddings", "is false there but true in the seed")]
    public void AnotherArchitectureIsRefusedNamingTheKeyAndBothValues(string key, string problem)
    {
        var config = key switch
        {
            "hidden_size" => Tiny with { HiddenSize = 32 },
            "num_hidden_layers" => Tiny with { NumHiddenLayers = 3 },
            "vocab_size" => Tiny with { VocabSize = 300 },
            "num_key_value_heads" => Tiny with { NumKeyValueHeads = 4 },
            "rope_theta" => Tiny with { RopeTheta = 500_000 },
            _ => Tiny with { TieWordEmbeddings = false },
        };
        var result = Import(Dense("ft", config, 2), Dense("seed", Tiny, 1), Out);
        AssertRefused(result, $"{key} {problem}; import a fine-tune of the seed named in spec.seed, or train the expert instead.");
    }

    [Fact]
    public void AnMoeIsRefusedAsNotDense()
    {
        var seed = Dense("seed", Tiny, 1);
        var moe = Path.Combine(directory, "moe");
        Upcycler.Run(seed, [new UpcycleExpert("law", Dense("law", Tiny, 2), [1, 0]), new UpcycleExpert("poems", Dense("poems", Tiny, 3), [0, 1])],
            RouterKind.Nexus, moe);

        AssertRefused(Import(moe, seed, Out), "model_type is 'nexus_moe' there, a mixture-of-experts checkpoint");
    }

    [Theory]
    [InlineData("missing", "model.layers.1.mlp.down_proj.weight is missing there; the seed's architecture has it with shape [64, 176]")]
    [InlineData("misshapen", "model.layers.0.mlp.up_proj.weight has shape [176, 32] there but [176, 64] in the seed's architecture")]
    [InlineData("integer", "model.norm.weight is I32 there; the supported dtypes are F32, F16, BF16; convert the checkpoint's weights")]
    [InlineData("extra", "model.layers.0.mlp.extra.weight is there, but the seed's architecture has no such tensor")]
    [InlineData("experts", "model.layers.0.mlp.experts.0.up_proj.weight is there, a mixture-of-experts tensor")]
    public void AWeightsFileThatDoesNotFitIsRefusedNamingTheTensor(string kind, string expected)
    {
        var seed = Dense("seed", Tiny, 1);
        var fineTune = Rewritten(Dense("ft", Tiny, 2), kind, (entry, bytes) => (kind, entry.Name) switch
        {
            ("missing", "model.layers.1.mlp.down_proj.weight") => [],
            ("misshapen", "model.layers.0.mlp.up_proj.weight") => [(new TensorSpec(entry.Name, entry.Dtype, [176, 32]), bytes[..(bytes.Length / 2)])],
            ("integer", "model.norm.weight") => [(new TensorSpec(entry.Name, SafetensorsDtype.I32, entry.Shape), bytes)],
            ("extra", "model.norm.weight") => [.. Same(entry, bytes), (new TensorSpec("model.layers.0.mlp.extra.weight", entry.Dtype, entry.Shape), bytes)],
            ("experts", "model.layers.0.mlp.up_proj.weight") => [(new TensorSpec("model.layers.0.mlp.experts.0.up_proj.weight", entry.Dtype, entry.Shape), bytes)],
            _ => Same(entry, bytes),
        });
        AssertRefused(Import(fineTune, seed, Out), expected);
    }

    private static JsonObject BpeConfig(string eos) => new() { ["bos_token"] = "<|begin_of_text|>", ["eos_token"] = eos, ["chat_template"] = "{{ messages }}" };

    private static LlamaConfig BpeModel => Tiny with { VocabSize = TinyBpeFiles.VocabSize, BosTokenId = TinyBpeFiles.BeginOfText, EosTokenId = TinyBpeFiles.EndOfText };

    [Fact]
    public void AnotherVocabularyIsRefusedNamingTheToken()
    {
        var seed = Dense("seed", BpeModel, 1, tokenizer: staging => TinyBpeFiles.Write(staging, TinyBpeFiles.Document()));
        var renamed = TinyBpeFiles.Document();
        renamed["added_tokens"]![2]!["content"] = "<|im_end|>";
        var fineTune = Dense("ft", BpeModel, 2, tokenizer: staging => TinyBpeFiles.Write(staging, renamed));

        AssertRefused(Import(fineTune, seed, Out), $"the tokenizer has token {TinyBpeFiles.EotId} = special \"<|im_end|>\" there but special \"<|eot_id|>\" in the seed");
    }

    [Fact]
    public void TheSameVocabularySavedAnotherWayImports()
    {
        var seed = Dense("seed", BpeModel, 1, tokenizer: staging => TinyBpeFiles.Write(staging, TinyBpeFiles.Document(), BpeConfig("<|end_of_text|>")));
        // Another writer's file (merges as pairs, no indentation) and a chat fine-tune's tokenizer_config (end-of-turn token, template).
        var fineTune = Dense("ft", BpeModel, 2, tokenizer: staging =>
        {
            File.WriteAllText(Path.Combine(staging, "tokenizer.json"), TinyBpeFiles.Document(mergesAsArrays: true).ToJsonString());
            File.WriteAllText(Path.Combine(staging, "tokenizer_config.json"), BpeConfig("<|eot_id|>").ToJsonString());
        });

        AssertSuccess(Import(fineTune, seed, Out));

        Assert.Equal(File.ReadAllBytes(Path.Combine(fineTune, "tokenizer_config.json")), File.ReadAllBytes(Path.Combine(Out, "tokenizer_config.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(fineTune, "tokenizer.json")), File.ReadAllBytes(Path.Combine(Out, "tokenizer.json")));
    }

    [Fact]
    public void AFailedImportLeavesAnEarlierOutAsItWas()
    {
        Directory.CreateDirectory(Out);
        File.WriteAllText(Path.Combine(Out, "earlier.txt"), "an earlier import");

        var result = Import(Dense("ft", Tiny with { HiddenSize = 32 }, 2), Dense("seed", Tiny, 1), Out);

        AssertOneLineError(result, "hidden_size is 32 there but 64 in the seed");
        Assert.Equal(["earlier.txt"], Directory.GetFileSystemEntries(Out).Select(Path.GetFileName));
        Assert.Equal(["ft", "out", "seed"], Directory.GetFileSystemEntries(directory).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void AMissingSeedIsOneClearLine() =>
        AssertOneLineError(Import(Dense("ft", Tiny, 2), Path.Combine(directory, "nowhere"), Out), "--seed-model: model directory");

    [Fact]
    public void HelpStatesWhatIsWrittenAndItsUnits()
    {
        var help = Invoke("import", "--help");
        Assert.Equal(0, help.Code);
        foreach (var expected in new[] { "--seed-model", "import.json", "size in bytes", "SHA-256", "exits 2" })
            Assert.Contains(expected, help.Out);
    }

    [Fact]
    public void ImportsFromS3AndPublishesTheExpertWithItsRecord()
    {
        using var s3 = new S3Environment(Path.Combine(directory, "cache"));
        s3.Publish(Dense("seed", Tiny, 1), "s3://nexus-cli/seed");
        s3.Publish(Dense("ft", Tiny, 2), "s3://nexus-cli/ft");

        var result = Import("s3://nexus-cli/ft", "s3://nexus-cli/seed", "s3://nexus-cli/experts/law");

        AssertSuccess(result);
        Assert.Contains("Imported s3://nexus-cli/ft as a fine-tune of s3://nexus-cli/seed", result.Out);
        var manifest = s3.Manifest("s3://nexus-cli/experts/law")!;
        Assert.Equal(["config.json", "import.json", "model.safetensors", TokenizerFiles.NexusFileName], manifest.Files.Select(f => f.Path).Order());
        var fetched = Path.Combine(directory, "fetched");
        s3.Fetch("s3://nexus-cli/experts/law", fetched);
        var record = ImportRecord.Load(Path.Combine(fetched, ImportRecord.FileName));
        Assert.Equal(("s3://nexus-cli/ft", "s3://nexus-cli/seed"), (record.Source, record.Seed));
        Assert.Equal(manifest.Files.Single(f => f.Path == "model.safetensors").Sha256, Assert.Single(record.Weights).Sha256);

        s3.Publish(Dense("wide", Tiny with { HiddenSize = 32 }, 3), "s3://nexus-cli/wide");
        var refused = Import("s3://nexus-cli/wide", "s3://nexus-cli/seed", "s3://nexus-cli/experts/wide");
        Assert.Equal(CliHost.BadInput, refused.Code); // one error line, after the fetches' progress lines
        Assert.Contains("s3://nexus-cli/wide cannot be imported as a fine-tune of the seed s3://nexus-cli/seed: hidden_size is 32",
            Assert.Single(refused.Error.Split('\n'), line => line.StartsWith("nexus:", StringComparison.Ordinal)));
        Assert.Null(s3.Manifest("s3://nexus-cli/experts/wide"));
    }

    /// <summary>A loopback s3rver with the environment the steps read their S3 settings from, restored on Dispose.</summary>
    private sealed class S3Environment : IDisposable
    {
        private readonly S3rver server = new();
        private readonly Dictionary<string, string?> saved = [];

        public S3Environment(string cache)
        {
            Set("NEXUS_S3_ENDPOINT", server.Settings.Endpoint.ToString());
            Set("NEXUS_S3_ACCESS_KEY", server.Settings.AccessKey);
            Set("NEXUS_S3_SECRET_KEY", server.Settings.SecretKey);
            Set("NEXUS_ARTIFACT_CACHE", cache);
            using var store = Store("s3://nexus-cli/any");
            store.EnsureBucketAsync().GetAwaiter().GetResult();
        }

        private void Set(string name, string value)
        {
            saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, value);
        }

        private S3ArtifactStore Store(string location) => new(ArtifactLocation.Parse(location), server.Settings);

        public void Publish(string folder, string location)
        {
            using var store = Store(location);
            store.PublishAsync(folder).GetAwaiter().GetResult();
        }

        public void Fetch(string location, string folder)
        {
            using var store = Store(location);
            store.FetchAsync(folder).GetAwaiter().GetResult();
        }

        public ArtifactManifest? Manifest(string location)
        {
            using var store = Store(location);
            return store.GetManifestAsync().GetAwaiter().GetResult();
        }

        public void Dispose()
        {
            foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value);
            server.Dispose();
        }
    }
}
