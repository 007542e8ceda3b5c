using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Nexus.Model.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> with a byte-level BPE model (GPT-2, Llama 3, Qwen 2 style), encoded with
/// Microsoft.ML.Tokenizers. Added tokens such as <c>&lt;|begin_of_text|&gt;</c> are matched whole in the input text;
/// BOS and EOS come from <c>tokenizer_config.json</c> beside the file when it names them, else from well-known names.
/// </summary>
public sealed class HuggingFaceTokenizer : ITextTokenizer
{
    public const string FileName = "tokenizer.json";
    public const string ConfigFileName = "tokenizer_config.json";

    /// <summary>The <c>model.type</c> values this class reads.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["BPE"];

    // The split GPT-2 applies before BPE; a ByteLevel pre-tokenizer with use_regex uses it.
    private const string Gpt2SplitPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly string[] WellKnownBosTokens = ["<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>"];
    private static readonly string[] WellKnownEosTokens = ["<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>"];
    private static readonly UTF8Encoding LenientUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly BpeTokenizer _bpe;
    private readonly byte[][] _tokenBytes;
    private readonly Dictionary<string, int> _vocabulary;
    private readonly bool _addPrefixSpace;

    private HuggingFaceTokenizer(BpeTokenizer bpe, Dictionary<string, int> vocabulary, Dictionary<string, int> addedTokens,
        byte[][] tokenBytes, bool addPrefixSpace)
    {
        _bpe = bpe;
        _vocabulary = vocabulary;
        AddedTokens = addedTokens;
        _tokenBytes = tokenBytes;
        _addPrefixSpace = addPrefixSpace;
    }

    public int VocabSize => _tokenBytes.Length;
    public int? BosId { get; private set; }
    public int? EosId { get; private set; }

    /// <summary>The <c>added_tokens</c> of the file (special or not), by content.</summary>
    public IReadOnlyDictionary<string, int> AddedTokens { get; }

    /// <summary>The id of a vocabulary or added token, written as in the file (byte-level spelling, e.g. "Ġthe").</summary>
    public int? TokenToId(string token) =>
        AddedTokens.TryGetValue(token, out var id) || _vocabulary.TryGetValue(token, out id) ? id : null;

    /// <summary>Loads <paramref name="tokenizerJsonPath"/> and, when present, the tokenizer_config.json beside it.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is not valid JSON or lacks a required entry.</exception>
    /// <exception cref="NotSupportedException">The model or a pre-processing step is of a kind this class does not implement.</exception>
    public static HuggingFaceTokenizer Load(string tokenizerJsonPath)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJsonPath);
        var file = Path.GetFullPath(tokenizerJsonPath);
        HuggingFaceTokenizer tokenizer;
        using (var document = JsonFile.Parse(file))
        {
            tokenizer = Create(document.RootElement, file);
        }

        var configPath = Path.Combine(Path.GetDirectoryName(file)!, ConfigFileName);
        JsonDocument? config = File.Exists(configPath) ? JsonFile.Parse(configPath) : null;
        using (config)
        {
            tokenizer.BosId = tokenizer.ResolveSpecial(config?.RootElement, "bos_token", configPath, file, WellKnownBosTokens);
            tokenizer.EosId = tokenizer.ResolveSpecial(config?.RootElement, "eos_token", configPath, file, WellKnownEosTokens);
        }
        return tokenizer;
    }

    public int[] Encode(string text, bool addBos = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (addBos && BosId is null)
            throw new InvalidOperationException("This tokenizer has no BOS token (none named in tokenizer_config.json, none of the usual names in the vocabulary).");
        if (_addPrefixSpace && text.Length > 0 && text[0] != ' ') text = " " + text;

        var encoded = _bpe.EncodeToIds(text);
        var ids = new int[encoded.Count + (addBos ? 1 : 0)];
        if (addBos) ids[0] = BosId!.Value;
        for (var i = 0; i < encoded.Count; i++) ids[ids.Length - encoded.Count + i] = encoded[i];
        return ids;
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (var id in ids) bytes.AddRange(GetTokenBytes(id));
        return LenientUtf8.GetString(bytes.ToArray());
    }

    public ReadOnlySpan<byte> GetTokenBytes(int id)
    {
        if ((uint)id >= (uint)_tokenBytes.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is outside the vocabulary [0, {VocabSize}).");
        return _tokenBytes[id];
    }

    private static HuggingFaceTokenizer Create(JsonElement root, string file)
    {
        if (root.ValueKind != JsonValueKind.Object) throw JsonFile.Invalid(file, "$", "must be an object", root);
        var model = JsonFile.RequireObject(root, "model", file, "$");
        var modelType = JsonFile.OptionalString(model, "type", file, "$.model") ?? "BPE";
        if (!SupportedModelTypes.Contains(modelType))
            throw new NotSupportedException(
                $"{file}: $.model.type is '{modelType}'; supported model types: {string.Join(", ", SupportedModelTypes)} (byte-level, as in GPT-2 and Llama 3).");
        if (JsonFile.OptionalBool(model, "byte_fallback", false, file, "$.model"))
            throw new NotSupportedException($"{file}: $.model.byte_fallback is true (SentencePiece-style BPE); only byte-level BPE is supported.");

        var vocabulary = ReadVocabulary(model, file);
        var merges = ReadMerges(model, file);
        var (addedTokens, specialIds) = ReadAddedTokens(root, file);
        var preTokenization = ReadPreTokenizer(root, file);
        RejectNormalizer(root, file);

        var specialTokens = new Dictionary<string, int>(addedTokens);
        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            SpecialTokens = specialTokens.Count > 0 ? specialTokens : null,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(preTokenization.Split, specialTokens.Count > 0 ? specialTokens : null),
            UnknownToken = JsonFile.OptionalString(model, "unk_token", file, "$.model"),
            ContinuingSubwordPrefix = JsonFile.OptionalString(model, "continuing_subword_prefix", file, "$.model"),
            EndOfWordSuffix = JsonFile.OptionalString(model, "end_of_word_suffix", file, "$.model"),
            FuseUnknownTokens = JsonFile.OptionalBool(model, "fuse_unk", false, file, "$.model"),
        };
        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(options);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"{file}: $.model could not be loaded as a BPE model: {e.Message}", e);
        }

        var size = Math.Max(vocabulary.Values.DefaultIfEmpty(-1).Max(), addedTokens.Values.DefaultIfEmpty(-1).Max()) + 1;
        var tokenBytes = new byte[size][];
        Array.Fill(tokenBytes, Array.Empty<byte>());
        foreach (var (token, id) in vocabulary)
            tokenBytes[id] = ByteLevelAlphabet.TryGetBytes(token) ?? Encoding.UTF8.GetBytes(token);
        foreach (var (content, id) in addedTokens)
            tokenBytes[id] = specialIds.Contains(id) ? [] : Encoding.UTF8.GetBytes(content);

        return new HuggingFaceTokenizer(bpe, vocabulary, addedTokens, tokenBytes, preTokenization.AddPrefixSpace);
    }

    private static Dictionary<string, int> ReadVocabulary(JsonElement model, string file)
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in JsonFile.RequireObject(model, "vocab", file, "$.model").EnumerateObject())
            vocabulary[entry.Name] = JsonFile.RequireInt(entry.Value, file, $"$.model.vocab[\"{entry.Name}\"]");
        if (vocabulary.Count == 0) throw new InvalidDataException($"{file}: $.model.vocab is empty.");
        return vocabulary;
    }

    // Microsoft.ML.Tokenizers takes merges as "left right" strings; newer files write them as ["left", "right"].
    private static List<string> ReadMerges(JsonElement model, string file)
    {
        var merges = new List<string>();
        var index = 0;
        foreach (var merge in JsonFile.RequireArray(model, "merges", file, "$.model").EnumerateArray())
        {
            var jsonPath = $"$.model.merges[{index++}]";
            if (merge.ValueKind == JsonValueKind.String)
            {
                merges.Add(merge.GetString()!);
                continue;
            }
            if (merge.ValueKind != JsonValueKind.Array || merge.GetArrayLength() != 2 ||
                merge[0].ValueKind != JsonValueKind.String || merge[1].ValueKind != JsonValueKind.String)
                throw JsonFile.Invalid(file, jsonPath, "must be a string \"a b\" or an array [\"a\", \"b\"]", merge);
            var left = merge[0].GetString()!;
            var right = merge[1].GetString()!;
            if (left.Contains(' ') || right.Contains(' '))
                throw new NotSupportedException($"{file}: {jsonPath} merges tokens containing a space, which byte-level BPE never has.");
            merges.Add(left + " " + right);
        }
        return merges;
    }

    private static (Dictionary<string, int> Tokens, HashSet<int> SpecialIds) ReadAddedTokens(JsonElement root, string file)
    {
        var tokens = new Dictionary<string, int>(StringComparer.Ordinal);
        var specialIds = new HashSet<int>();
        if (JsonFile.Optional(root, "added_tokens") is not { ValueKind: JsonValueKind.Array } added) return (tokens, specialIds);

        var index = 0;
        foreach (var token in added.EnumerateArray())
        {
            var jsonPath = $"$.added_tokens[{index++}]";
            var content = JsonFile.OptionalString(token, "content", file, jsonPath);
            if (string.IsNullOrEmpty(content)) throw JsonFile.Invalid(file, jsonPath + ".content", "must be a non-empty string", JsonFile.Optional(token, "content"));
            var idElement = JsonFile.Optional(token, "id") ?? throw JsonFile.Invalid(file, jsonPath + ".id", "must be a non-negative integer", null);
            var id = JsonFile.RequireInt(idElement, file, jsonPath + ".id");
            tokens[content] = id;
            if (JsonFile.OptionalBool(token, "special", false, file, jsonPath)) specialIds.Add(id);
        }
        return (tokens, specialIds);
    }

    private sealed record PreTokenization(Regex Split, bool AddPrefixSpace);

    // Supported: ByteLevel alone (GPT-2), or a Sequence of one regex Split and a ByteLevel without its own regex
    // (Llama 3, Qwen 2). Anything else would encode differently from the original tokenizer, so it is refused.
    private static PreTokenization ReadPreTokenizer(JsonElement root, string file)
    {
        const string supported = "supported: ByteLevel, or a Sequence of a Split with a Regex pattern and a ByteLevel";
        var preTokenizer = JsonFile.Optional(root, "pre_tokenizer");
        if (preTokenizer is not { ValueKind: JsonValueKind.Object } top)
            throw new NotSupportedException($"{file}: $.pre_tokenizer is missing; only byte-level BPE is supported ({supported}).");

        var steps = new List<(JsonElement Step, string Path)>();
        if (JsonFile.OptionalString(top, "type", file, "$.pre_tokenizer") == "Sequence")
        {
            var index = 0;
            foreach (var step in JsonFile.RequireArray(top, "pretokenizers", file, "$.pre_tokenizer").EnumerateArray())
                steps.Add((step, $"$.pre_tokenizer.pretokenizers[{index++}]"));
        }
        else
        {
            steps.Add((top, "$.pre_tokenizer"));
        }

        var patterns = new List<(string Pattern, string Path)>();
        var byteLevel = false;
        var addPrefixSpace = false;
        foreach (var (step, path) in steps)
        {
            var type = JsonFile.OptionalString(step, "type", file, path);
            switch (type)
            {
                case "ByteLevel":
                    byteLevel = true;
                    addPrefixSpace = JsonFile.OptionalBool(step, "add_prefix_space", false, file, path);
                    if (JsonFile.OptionalBool(step, "use_regex", true, file, path)) patterns.Add((Gpt2SplitPattern, path));
                    break;
                case "Split":
                    patterns.Add((ReadSplitPattern(step, file, path), path + ".pattern.Regex"));
                    break;
                default:
                    throw new NotSupportedException($"{file}: {path}.type is '{type}'; {supported}.");
            }
        }
        if (!byteLevel)
            throw new NotSupportedException($"{file}: $.pre_tokenizer has no ByteLevel step; only byte-level BPE is supported ({supported}).");
        if (patterns.Count != 1)
            throw new NotSupportedException($"{file}: $.pre_tokenizer splits with {patterns.Count} regular expressions; exactly one is supported ({supported}).");

        try
        {
            return new PreTokenization(new Regex(patterns[0].Pattern, RegexOptions.Compiled), addPrefixSpace);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{file}: {patterns[0].Path} is not a regular expression .NET accepts: {e.Message}", e);
        }
    }

    private static string ReadSplitPattern(JsonElement split, string file, string path)
    {
        var behavior = JsonFile.OptionalString(split, "behavior", file, path);
        if (behavior != "Isolated" || JsonFile.OptionalBool(split, "invert", false, file, path))
            throw new NotSupportedException($"{file}: {path} is a Split with behavior '{behavior}'; only Isolated, not inverted, is supported.");
        var pattern = JsonFile.RequireObject(split, "pattern", file, path);
        return JsonFile.OptionalString(pattern, "Regex", file, path + ".pattern")
            ?? throw new NotSupportedException($"{file}: {path}.pattern has no Regex; only regular-expression splits are supported.");
    }

    private static void RejectNormalizer(JsonElement root, string file)
    {
        if (JsonFile.Optional(root, "normalizer") is { ValueKind: not JsonValueKind.Null } normalizer)
            throw new NotSupportedException(
                $"{file}: $.normalizer is {JsonFile.OptionalString(normalizer, "type", file, "$.normalizer") ?? "set"}; byte-level BPE files without a normalizer are supported.");
    }

    private int? ResolveSpecial(JsonElement? config, string key, string configPath, string file, string[] wellKnown)
    {
        if (config is { } root && JsonFile.Optional(root, key) is { } entry)
        {
            var name = entry.ValueKind switch
            {
                JsonValueKind.Null => null,
                JsonValueKind.String => entry.GetString(),
                JsonValueKind.Object => JsonFile.OptionalString(entry, "content", configPath, "$." + key)
                    ?? throw JsonFile.Invalid(configPath, $"$.{key}.content", "must be a string", JsonFile.Optional(entry, "content")),
                _ => throw JsonFile.Invalid(configPath, "$." + key, "must be a string, null, or an object with \"content\"", entry),
            };
            if (name is null) return null;
            return TokenToId(name)
                ?? throw new InvalidDataException($"{configPath}: $.{key} is \"{name}\", which is not a token of {file}.");
        }
        foreach (var name in wellKnown)
        {
            if (TokenToId(name) is { } id) return id;
        }
        return null;
    }
}
