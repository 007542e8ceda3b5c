using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Nexus.Model;
using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;

namespace Nexus.Training;

/// <summary>One weights file of an imported model: its path in the model folder, size in bytes and SHA-256 (lower-case hex).</summary>
public sealed record ImportedFile(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256);

/// <summary>
/// <c>import.json</c>, written beside an imported model: where it came from, the seed it was checked against, and its
/// weights' hashes, so that whoever reads the published artifact's manifest can tell what was imported.
/// </summary>
public sealed record ImportRecord(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("seed")] string Seed,
    [property: JsonPropertyName("parameters")] long Parameters,
    [property: JsonPropertyName("weights")] IReadOnlyList<ImportedFile> Weights)
{
    public const string FormatName = "nexus.import/v1";
    public const string FileName = "import.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ImportRecord Load(string path) =>
        JsonSerializer.Deserialize<ImportRecord>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path} is empty.");
}

/// <summary>Why a checkpoint is not a dense fine-tune of the seed: the config key, tokenizer or tensor, and what differs.</summary>
public sealed record ImportMismatch(string Field, string Problem, string Remedy = ImportMismatch.TrainInstead)
{
    public const string TrainInstead = "import a fine-tune of the seed named in spec.seed, or train the expert instead";
    public const string DenseInstead = "import a dense fine-tune of the seed named in spec.seed, or train the expert instead";

    public string Describe(string source, string seed) => $"{source} cannot be imported as a fine-tune of the seed {seed}: {Field} {Problem}; {Remedy}.";
}

/// <summary>
/// An existing dense fine-tune → an expert, as if trained from the seed: checked to be a dense checkpoint of the seed's
/// architecture and tokenizer (from config.json, the tokenizer and the safetensors headers: no libtorch, no tensor is
/// read), then its config, weights and tokenizer files copied byte for byte into a staging folder, the weights hashed
/// as they stream, and the folder renamed into place with <see cref="ImportRecord"/> beside them.
/// </summary>
public static class DenseImporter
{
    /// <summary>The dtypes every later step reads (upcycle and extend convert them to fp32 as they stream).</summary>
    public static IReadOnlyList<SafetensorsDtype> SupportedDtypes { get; } = [SafetensorsDtype.F32, SafetensorsDtype.F16, SafetensorsDtype.BF16];

    /// <summary>Config keys only mixture-of-experts configs have (Mixtral, Qwen2-MoE, DeepSeek-MoE, Nexus).</summary>
    private static readonly string[] MoeKeys = ["num_local_experts", "num_experts", "n_routed_experts", "expert_names", "moe_intermediate_size"];

    /// <summary>Name parts only mixture-of-experts tensors have.</summary>
    private static readonly string[] MoeTensorParts = [".mlp.experts.", ".mlp.shared_expert.", ".mlp.router.", ".block_sparse_moe."];

    private const int CopyBufferBytes = 1 << 20;

    /// <param name="sourceLocation">Where <paramref name="sourceDirectory"/> came from (an s3:// location), for messages and import.json.</param>
    /// <param name="seedLocation">Likewise for <paramref name="seedDirectory"/>.</param>
    public static async Task<ImportRecord> RunAsync(string sourceDirectory, string seedDirectory, string outputDirectory,
        string sourceLocation, string seedLocation, CancellationToken cancel)
    {
        var seedConfig = LlamaConfig.Load(ConfigPath(seedDirectory, "--seed-model"));
        var sourceConfig = ReadUnvalidated(ConfigPath(sourceDirectory, "--model"));
        Refuse(CheckConfig(seedConfig, sourceConfig) ?? CheckTokenizer(TokenizerFiles.Load(seedDirectory), TokenizerFiles.Load(sourceDirectory)));
        sourceConfig.Validate(); // equal to the seed's in every key that matters; this catches the rest (max_position_embeddings)
        using var weights = OpenWeights(sourceDirectory, sourceLocation);
        Refuse(CheckTensors(seedConfig, weights.Names.Select(weights.Entry)));

        var weightFiles = WeightFiles(sourceDirectory, weights);
        var otherFiles = new[] { ModelCheckpoint.ConfigFile }.Concat(TokenizerFiles.KnownFiles.Where(f => File.Exists(Path.Combine(sourceDirectory, f))));
        ImportRecord? record = null;
        await AtomicDirectory.WriteAsync(outputDirectory, async staging =>
        {
            foreach (var file in otherFiles) await CopyAsync(sourceDirectory, file, staging, cancel);
            var hashed = new List<ImportedFile>();
            foreach (var file in weightFiles) hashed.Add(await CopyAsync(sourceDirectory, file, staging, cancel));
            record = new ImportRecord(ImportRecord.FormatName, sourceLocation, seedLocation, seedConfig.ParameterCount(), hashed);
            AtomicFile.WriteAllText(Path.Combine(staging, ImportRecord.FileName), record.ToJson());
        });
        return record!;

        void Refuse(ImportMismatch? mismatch)
        {
            if (mismatch is not null) throw new InvalidDataException(mismatch.Describe(sourceLocation, seedLocation));
        }
    }

    /// <summary>
    /// The first config key in which <paramref name="source"/> differs from the seed, or null. Mixture-of-experts configs
    /// are named as such. Not compared: max_position_embeddings (rotary positions carry no weights, and an upcycled MoE
    /// takes the seed's), token ids and torch_dtype (the tokenizer and the weights are checked themselves).
    /// </summary>
    public static ImportMismatch? CheckConfig(LlamaConfig seed, LlamaConfig source)
    {
        var moeKey = MoeKeys.FirstOrDefault(k => source.Extra?.ContainsKey(k) == true);
        var moe = moeKey is null ? "" : $"{moeKey} {Compact(source.Extra![moeKey])}";
        if (source.ModelType != seed.ModelType)
            return moeKey is not null || source.ModelType.Contains("moe", StringComparison.OrdinalIgnoreCase)
                ? new("model_type", $"is '{source.ModelType}' there, a mixture-of-experts checkpoint{(moe.Length > 0 ? $" ({moe})" : "")}, but '{seed.ModelType}' (dense) in the seed",
                    ImportMismatch.DenseInstead)
                : new("model_type", $"is '{source.ModelType}' there but '{seed.ModelType}' in the seed");
        if (moeKey is not null)
            return new(moeKey, $"is {Compact(source.Extra![moeKey])} there, a mixture-of-experts setting, but the seed is dense",
                ImportMismatch.DenseInstead);
        foreach (var ((key, seedValue), (_, sourceValue)) in ArchitectureFields(seed).Zip(ArchitectureFields(source)))
            if (seedValue != sourceValue)
                return new(key, $"is {sourceValue} there but {seedValue} in the seed");
        return null;
    }

    /// <summary>The config keys that fix every tensor's shape and what its numbers mean, with their values as text.</summary>
    public static IReadOnlyList<(string Key, string Value)> ArchitectureFields(LlamaConfig c) =>
    [
        ("vocab_size", Text(c.VocabSize)),
        ("hidden_size", Text(c.HiddenSize)),
        ("intermediate_size", Text(c.IntermediateSize)),
        ("num_hidden_layers", Text(c.NumHiddenLayers)),
        ("num_attention_heads", Text(c.NumAttentionHeads)),
        ("num_key_value_heads", Text(c.NumKeyValueHeads)),
        ("head_dim", Text(c.HeadDimOverride ?? (c.NumAttentionHeads > 0 ? c.HiddenSize / c.NumAttentionHeads : 0))),
        ("hidden_act", $"'{c.HiddenAct}'"),
        ("rms_norm_eps", Text(c.RmsNormEps)),
        ("rope_theta", Text(c.RopeTheta)),
        ("rope_scaling", c.RopeScaling is { ValueKind: not JsonValueKind.Null } scaling ? Compact(scaling) : "null"),
        ("tie_word_embeddings", Text(c.TieWordEmbeddings)),
        ("attention_bias", Text(c.AttentionBias)),
        ("mlp_bias", Text(c.MlpBias)),
    ];

    /// <summary>
    /// The first token id that means something else in <paramref name="source"/> than in the seed, or null. What is compared
    /// is the vocabulary as loaded, id by id (the bytes a token stands for, or a special token's name), because that is what
    /// the embedding and output rows are indexed by. File hashes would refuse the same vocabulary saved by another version
    /// of tokenizers (key order, escapes) or a tokenizer_config.json a fine-tune edits (chat template, pad or end-of-turn
    /// token), which change nothing that upcycling mixes.
    /// </summary>
    public static ImportMismatch? CheckTokenizer(ITextTokenizer seed, ITextTokenizer source)
    {
        if (source.VocabSize != seed.VocabSize)
            return new("the tokenizer", $"has {source.VocabSize} tokens there but {seed.VocabSize} in the seed");
        var seedSpecial = SpecialNames(seed);
        var sourceSpecial = SpecialNames(source);
        for (var id = 0; id < seed.VocabSize; id++)
        {
            var expected = Spelling(seed, seedSpecial, id);
            var actual = Spelling(source, sourceSpecial, id);
            if (expected != actual) return new("the tokenizer", $"has token {id} = {actual} there but {expected} in the seed");
        }
        return null;
    }

    /// <summary>
    /// The first tensor that keeps the checkpoint from loading as the seed's architecture, or null: a mixture-of-experts
    /// tensor, a missing one, one of another shape or of an unsupported dtype, or one the architecture does not have.
    /// </summary>
    public static ImportMismatch? CheckTensors(LlamaConfig seed, IEnumerable<TensorEntry> tensors)
    {
        var byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var moe = byName.Keys.FirstOrDefault(n => MoeTensorParts.Any(p => n.Contains(p, StringComparison.Ordinal)));
        if (moe is not null)
            return new(moe, "is there, a mixture-of-experts tensor, but the seed is dense", ImportMismatch.DenseInstead);
        var expected = seed.ParameterShapes().ToList();
        foreach (var (name, shape) in expected)
        {
            if (!byName.TryGetValue(name, out var entry))
                return new(name, $"is missing there; the seed's architecture has it with shape {Shape(shape)}");
            if (!entry.Shape.SequenceEqual(shape))
                return new(name, $"has shape {Shape(entry.Shape)} there but {Shape(shape)} in the seed's architecture");
            if (!SupportedDtypes.Contains(entry.Dtype))
                return new(name, $"is {entry.Dtype.ToFormatString()} there; the supported dtypes are {string.Join(", ", SupportedDtypes.Select(d => d.ToFormatString()))}",
                    "convert the checkpoint's weights to one of them");
        }
        var known = expected.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var unexpected = byName.Keys.FirstOrDefault(n => !known.Contains(n) && !ModelWeights.IsIgnorable(n, seed));
        return unexpected is null ? null : new(unexpected, "is there, but the seed's architecture has no such tensor");
    }

    /// <summary>The checkpoint's headers (every shard's, so a broken one fails here and not mid-copy); a malformed file is bad input.</summary>
    private static SafetensorsCheckpoint OpenWeights(string directory, string location)
    {
        SafetensorsCheckpoint? weights = null;
        try
        {
            weights = SafetensorsCheckpoint.Open(directory);
            foreach (var name in weights.Names) weights.Entry(name);
            return weights;
        }
        catch (SafetensorsFormatException e)
        {
            weights?.Dispose();
            throw new InvalidDataException($"{location}: the weights are not a valid safetensors checkpoint: {e.Message}", e);
        }
    }

    /// <summary>The weights files to copy, relative to the model folder: model.safetensors, or the index and its shards.</summary>
    private static List<string> WeightFiles(string directory, SafetensorsCheckpoint weights)
    {
        if (!weights.IsSharded) return [SafetensorsCheckpoint.SingleFileName];
        var root = Path.GetFullPath(directory);
        return [SafetensorsCheckpoint.IndexFileName, .. weights.ShardPaths.Select(p => Path.GetRelativePath(root, p)).Order(StringComparer.Ordinal)];
    }

    /// <summary>Streams one file into the staging folder through SHA-256; memory holds one buffer whatever the file's size.</summary>
    private static async Task<ImportedFile> CopyAsync(string sourceDirectory, string relative, string staging, CancellationToken cancel)
    {
        var target = Path.Combine(staging, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[CopyBufferBytes];
        long size = 0;
        await using (var input = new FileStream(Path.Combine(sourceDirectory, relative), FileMode.Open, FileAccess.Read, FileShare.Read, 1,
                         FileOptions.Asynchronous | FileOptions.SequentialScan))
        await using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
        {
            int read;
            while ((read = await input.ReadAsync(buffer, cancel)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await output.WriteAsync(buffer.AsMemory(0, read), cancel);
                size += read;
            }
            output.Flush(flushToDisk: true);
        }
        return new ImportedFile(relative.Replace(Path.DirectorySeparatorChar, '/'), size, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    private static string ConfigPath(string directory, string option)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{option}: model directory '{directory}' does not exist.");
        var path = Path.Combine(directory, ModelCheckpoint.ConfigFile);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{option}: no config.json in model directory '{directory}'.", path);
    }

    /// <summary>The config as written, whatever its model_type, so that a difference from the seed is named before it is judged.</summary>
    private static LlamaConfig ReadUnvalidated(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<LlamaConfig>(File.ReadAllText(path)) ?? throw new InvalidModelConfigException($"{path}: empty config.");
        }
        catch (JsonException e)
        {
            throw new InvalidModelConfigException($"{path}: not a valid model config ({e.Message}).");
        }
    }

    /// <summary>Special (added) tokens by id: they stand for no bytes, so their names tell them apart.</summary>
    private static Dictionary<int, string> SpecialNames(ITextTokenizer tokenizer)
    {
        var names = new Dictionary<int, string>();
        if (tokenizer is HuggingFaceTokenizer huggingFace)
            foreach (var (content, id) in huggingFace.AddedTokens.OrderBy(p => p.Key, StringComparer.Ordinal))
                names.TryAdd(id, content);
        return names;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    // Tokens are quoted for a person to read: '<' stays '<', not \u003C.
    private static readonly JsonSerializerOptions Quoting = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>What a token id stands for, as text for a message: its bytes (quoted, or hex when not UTF-8), or a special token.</summary>
    private static string Spelling(ITextTokenizer tokenizer, Dictionary<int, string> special, int id)
    {
        var bytes = tokenizer.GetTokenBytes(id);
        if (bytes.IsEmpty)
            return special.TryGetValue(id, out var name) ? $"special {JsonSerializer.Serialize(name, Quoting)}" : "a special token";
        try
        {
            return JsonSerializer.Serialize(StrictUtf8.GetString(bytes), Quoting);
        }
        catch (DecoderFallbackException)
        {
            return "bytes 0x" + Convert.ToHexStringLower(bytes);
        }
    }

    /// <summary>A JSON value on one line, however the config indented it.</summary>
    private static string Compact(JsonElement value) => JsonSerializer.Serialize(value, Quoting);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
    private static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    private static string Text(bool value) => value ? "true" : "false";
    private static string Shape(IEnumerable<long> shape) => $"[{string.Join(", ", shape)}]";
}
