using System.Text.Json;
using System.Text.Json.Nodes;

namespace Nexus.Model.Tests.Tokenization;

/// <summary>
/// Writes a tiny byte-level BPE tokenizer.json: ids 0..255 are the single bytes (spelled in the GPT-2 byte alphabet,
/// so any text can be encoded), a few merges build "hello" and " wor", and three special tokens follow.
/// </summary>
internal static class TinyBpeFiles
{
    public const int He = 256;
    public const int Hello = 259;
    public const int SpaceWor = 262;
    public const int BeginOfText = 263;
    public const int EndOfText = 264;
    public const int EotId = 265;
    public const int NonSpecialAdded = 266;
    public const int VocabSize = 267;

    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly (string Left, string Right)[] Merges =
        [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or")];

    public static JsonObject Document(bool mergesAsArrays = false, JsonNode? preTokenizer = null)
    {
        var vocab = new JsonObject();
        for (var b = 0; b < 256; b++) vocab[ByteChar(b).ToString()] = b;
        var id = 256;
        foreach (var (left, right) in Merges) vocab[left + right] = id++;

        var merges = new JsonArray();
        foreach (var (left, right) in Merges)
            merges.Add(mergesAsArrays ? new JsonArray(left, right) : JsonValue.Create(left + " " + right));

        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                AddedToken(BeginOfText, "<|begin_of_text|>", special: true),
                AddedToken(EndOfText, "<|end_of_text|>", special: true),
                AddedToken(EotId, "<|eot_id|>", special: true),
                AddedToken(NonSpecialAdded, "<tool>", special: false)),
            ["normalizer"] = null,
            ["pre_tokenizer"] = preTokenizer ?? Llama3PreTokenizer(),
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
    }

    public static JsonObject Llama3PreTokenizer() => new()
    {
        ["type"] = "Sequence",
        ["pretokenizers"] = new JsonArray(
            new JsonObject
            {
                ["type"] = "Split",
                ["pattern"] = new JsonObject { ["Regex"] = Llama3Pattern },
                ["behavior"] = "Isolated",
                ["invert"] = false,
            },
            new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
    };

    public static JsonObject Gpt2PreTokenizer(bool addPrefixSpace = false) =>
        new() { ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["trim_offsets"] = true };

    public static string Write(string directory, JsonNode document, JsonNode? config = null)
    {
        var path = Path.Combine(directory, "tokenizer.json");
        File.WriteAllText(path, document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (config is not null) File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString());
        return path;
    }

    // The GPT-2 byte alphabet, written out independently of the production code so the test checks it.
    public static char ByteChar(int b)
    {
        if (b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF) return (char)b;
        var shifted = Enumerable.Range(0, b).Count(x => !(x is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF));
        return (char)(256 + shifted);
    }

    private static JsonObject AddedToken(int id, string content, bool special) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = !special,
        ["special"] = special,
    };
}
