using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Nexus.Api.Validation;

/// <summary>The JSON types the API server tells apart after decoding: integers (int64) and numbers (float64) differ.</summary>
internal enum JsonKind
{
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Object,
    Array,
}

/// <summary>
/// Reads JSON values the way the API server's decoder sees them: a number without a fraction or exponent that fits
/// int64 is an integer, any other number a float64. Works for parsed nodes and for nodes built from .NET values.
/// </summary>
internal static class JsonData
{
    public static JsonKind KindOf(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return JsonKind.Null;
            case JsonObject:
                return JsonKind.Object;
            case JsonArray:
                return JsonKind.Array;
        }

        var value = node.AsValue();
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                return JsonKind.String;
            case JsonValueKind.True:
            case JsonValueKind.False:
                return JsonKind.Boolean;
            case JsonValueKind.Number:
                return TryGetInteger(value, out _) ? JsonKind.Integer : JsonKind.Number;
            default:
                return JsonKind.Null;
        }
    }

    /// <summary>The type name kube-openapi reports for a value: "integer", "number", "string", ...</summary>
    public static string TypeName(JsonKind kind) => kind switch
    {
        JsonKind.Null => "null",
        JsonKind.Boolean => "boolean",
        JsonKind.Integer => "integer",
        JsonKind.Number => "number",
        JsonKind.String => "string",
        JsonKind.Object => "object",
        _ => "array",
    };

    public static bool TryGetInteger(JsonNode? node, out long integer)
    {
        integer = 0;
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }

        if (value.TryGetValue(out JsonElement element))
        {
            var raw = element.GetRawText();
            return raw.AsSpan().IndexOfAny(".eE") < 0 && element.TryGetInt64(out integer);
        }

        if (value.TryGetValue(out long longValue))
        {
            integer = longValue;
            return true;
        }

        if (value.TryGetValue(out int intValue))
        {
            integer = intValue;
            return true;
        }

        if (value.TryGetValue(out short shortValue))
        {
            integer = shortValue;
            return true;
        }

        if (value.TryGetValue(out uint uintValue))
        {
            integer = uintValue;
            return true;
        }

        if (value.TryGetValue(out ulong ulongValue) && ulongValue <= long.MaxValue)
        {
            integer = (long)ulongValue;
            return true;
        }

        return false;
    }

    /// <summary>Any JSON number as a double (integers converted).</summary>
    public static double GetDouble(JsonNode node)
    {
        if (TryGetInteger(node, out var integer))
        {
            return integer;
        }

        var value = node.AsValue();
        if (value.TryGetValue(out JsonElement element))
        {
            return element.GetDouble();
        }

        if (value.TryGetValue(out double doubleValue))
        {
            return doubleValue;
        }

        if (value.TryGetValue(out float floatValue))
        {
            return floatValue;
        }

        if (value.TryGetValue(out decimal decimalValue))
        {
            return (double)decimalValue;
        }

        return double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture);
    }

    /// <summary>A JSON string's text, also for values built from .NET types that serialize as strings (dates, enums).</summary>
    public static string GetString(JsonNode node)
        => node.AsValue().TryGetValue(out string? text) ? text : JsonSerializer.Deserialize<string>(node.ToJsonString())!;

    public static bool GetBoolean(JsonNode node) => node.AsValue().GetValueKind() == JsonValueKind.True;

    /// <summary>True when the number is whole, as go-openapi's IsFloat64AJSONInteger decides (1.0 passes as an integer).</summary>
    public static bool IsWhole(double value)
        => !double.IsNaN(value) && Math.Abs(value) <= MaxSafeInteger && value == Math.Floor(value);

    private const double MaxSafeInteger = 9007199254740991;

    /// <summary>Structural equality with numbers compared by value (1 equals 1.0), as reflect.DeepEqual after decoding.</summary>
    public static bool DeepEquals(JsonNode? left, JsonNode? right)
    {
        var leftKind = KindOf(left);
        var rightKind = KindOf(right);
        if (leftKind is JsonKind.Integer or JsonKind.Number && rightKind is JsonKind.Integer or JsonKind.Number)
        {
            if (leftKind == JsonKind.Integer && rightKind == JsonKind.Integer)
            {
                TryGetInteger(left, out var a);
                TryGetInteger(right, out var b);
                return a == b;
            }

            return GetDouble(left!) == GetDouble(right!);
        }

        if (leftKind != rightKind)
        {
            return false;
        }

        switch (leftKind)
        {
            case JsonKind.Null:
                return true;
            case JsonKind.Boolean:
                return GetBoolean(left!) == GetBoolean(right!);
            case JsonKind.String:
                return GetString(left!) == GetString(right!);
            case JsonKind.Array:
            {
                var a = (JsonArray)left!;
                var b = (JsonArray)right!;
                return a.Count == b.Count && a.Zip(b).All(pair => DeepEquals(pair.First, pair.Second));
            }

            default:
            {
                var a = (JsonObject)left!;
                var b = (JsonObject)right!;
                return a.Count == b.Count
                    && a.All(entry => b.TryGetPropertyValue(entry.Key, out var other) && DeepEquals(entry.Value, other));
            }
        }
    }

    /// <summary>A string equal for deeply equal values (object keys sorted, numbers by value): a set or dictionary key.</summary>
    public static string CanonicalKey(JsonNode? node)
    {
        var builder = new StringBuilder();
        AppendCanonical(builder, node);
        return builder.ToString();
    }

    private static void AppendCanonical(StringBuilder builder, JsonNode? node)
    {
        switch (KindOf(node))
        {
            case JsonKind.Integer:
            case JsonKind.Number:
                builder.Append(GetDouble(node!).ToString("R", CultureInfo.InvariantCulture));
                break;
            case JsonKind.Array:
                builder.Append('[');
                foreach (var item in (JsonArray)node!)
                {
                    AppendCanonical(builder, item);
                    builder.Append(',');
                }

                builder.Append(']');
                break;
            case JsonKind.Object:
                builder.Append('{');
                foreach (var entry in ((JsonObject)node!).OrderBy(entry => entry.Key, StringComparer.Ordinal))
                {
                    builder.Append(JsonSerializer.Serialize(entry.Key)).Append(':');
                    AppendCanonical(builder, entry.Value);
                    builder.Append(',');
                }

                builder.Append('}');
                break;
            default:
                builder.Append(node is null ? "null" : node.ToJsonString());
                break;
        }
    }
}
