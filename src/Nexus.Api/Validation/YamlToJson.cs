using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Nexus.Api.Validation;

/// <summary>
/// YAML manifests to JSON as kubectl sends them: plain scalars resolve with the YAML 1.1 rules of the go-yaml v2
/// that sigs.k8s.io/yaml uses (so <c>yes</c>/<c>on</c> are booleans, <c>0x1F</c> and <c>0777</c> integers,
/// <c>1_000</c> is 1000); quoted scalars and keys are strings.
/// </summary>
public static partial class YamlToJson
{
    private static readonly HashSet<string> TrueWords = ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"];
    private static readonly HashSet<string> FalseWords = ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"];
    private static readonly HashSet<string> NullWords = ["", "~", "null", "Null", "NULL"];

    /// <summary>The first document; null for an empty one.</summary>
    /// <exception cref="YamlException">The text is not YAML.</exception>
    public static JsonNode? Convert(string yaml) => ConvertAll(yaml).FirstOrDefault();

    /// <summary>Every document of a multi-document stream, in order.</summary>
    /// <exception cref="YamlException">The text is not YAML.</exception>
    public static IReadOnlyList<JsonNode?> ConvertAll(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Select(document => ToJson(document.RootNode)).ToList();
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode mapping => ToObject(mapping),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new YamlException(node.Start, node.End, $"Unsupported YAML node {node.NodeType}."),
    };

    private static JsonObject ToObject(YamlMappingNode mapping)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in mapping.Children)
        {
            var name = key is YamlScalarNode scalarKey
                ? scalarKey.Value ?? ""
                : throw new YamlException(key.Start, key.End, "Only scalar mapping keys have a JSON form.");
            if (obj.ContainsKey(name))
            {
                throw new YamlException(key.Start, key.End, $"Duplicate key {name}.");
            }

            obj[name] = ToJson(value);
        }

        return obj;
    }

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        var tag = scalar.Tag.IsEmpty ? "" : scalar.Tag.Value;
        switch (tag)
        {
            case "tag:yaml.org,2002:str":
                return JsonValue.Create(text);
            case "tag:yaml.org,2002:null":
                return null;
            case "tag:yaml.org,2002:bool" when TrueWords.Contains(text):
                return JsonValue.Create(true);
            case "tag:yaml.org,2002:bool" when FalseWords.Contains(text):
                return JsonValue.Create(false);
            case "tag:yaml.org,2002:bool":
                throw Invalid(scalar, "bool");
            case "tag:yaml.org,2002:int":
                return Integer(text) ?? throw Invalid(scalar, "int");
            case "tag:yaml.org,2002:float":
                return Float(text) ?? throw Invalid(scalar, "float");
        }

        if (scalar.Style != ScalarStyle.Plain || tag.Length > 0)
        {
            return JsonValue.Create(text);
        }

        if (NullWords.Contains(text))
        {
            return null;
        }

        if (TrueWords.Contains(text))
        {
            return JsonValue.Create(true);
        }

        if (FalseWords.Contains(text))
        {
            return JsonValue.Create(false);
        }

        return Integer(text) ?? Float(text) ?? JsonValue.Create(text);
    }

    private static YamlException Invalid(YamlScalarNode scalar, string type)
        => new(scalar.Start, scalar.End, $"{GoSyntax.Quote(scalar.Value ?? "")} is not a valid !!{type}.");

    /// <summary>go-yaml v2's integers: strconv.ParseInt with base prefixes (0x, 0o, 0b, a leading 0 for octal), with
    /// underscores removed.</summary>
    private static JsonValue? Integer(string text)
    {
        var plain = text.Replace("_", "", StringComparison.Ordinal);
        var match = IntegerPattern().Match(plain);
        if (!match.Success)
        {
            return null;
        }

        var negative = match.Groups["sign"].Value == "-";
        var digits = match.Groups["digits"].Value;
        var prefix = match.Groups["prefix"].Value.ToLowerInvariant();
        var radix = prefix switch
        {
            "0x" => 16,
            "0b" => 2,
            "0o" => 8,
            _ => digits.Length > 1 && digits[0] == '0' ? 8 : 10,
        };

        try
        {
            var magnitude = radix == 10
                ? ulong.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture)
                : System.Convert.ToUInt64(digits, radix);
            if (!negative && magnitude <= long.MaxValue)
            {
                return JsonValue.Create((long)magnitude);
            }

            if (negative && magnitude <= (ulong)long.MaxValue + 1)
            {
                return JsonValue.Create(unchecked(-(long)magnitude));
            }

            return negative ? JsonValue.Create(-(double)magnitude) : JsonValue.Create(magnitude);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            return null;
        }
    }

    private static JsonValue? Float(string text)
    {
        var plain = text.Replace("_", "", StringComparison.Ordinal);
        return FloatPattern().IsMatch(plain)
            ? JsonValue.Create(double.Parse(plain, NumberStyles.Float, CultureInfo.InvariantCulture))
            : null;
    }

    [GeneratedRegex(@"^(?<sign>[-+]?)(?<prefix>0[xXbBoO])?(?<digits>[0-9a-fA-F]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex FloatPattern();
}
