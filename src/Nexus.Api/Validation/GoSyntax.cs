using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Nexus.Api.Validation;

/// <summary>
/// Go's fmt renderings that appear in API server messages: %q for strings, %v for float64 (shortest digits, an
/// exponent from 1e+06 and below 1e-04), %#v for decoded JSON maps and slices. Matching them keeps our messages
/// byte-for-byte those a user sees from a real cluster.
/// </summary>
internal static class GoSyntax
{
    /// <summary>strconv.Quote: double quotes, Go escapes for control and non-printable characters.</summary>
    public static string Quote(string text)
    {
        var builder = new StringBuilder(text.Length + 2).Append('"');
        foreach (var rune in text.EnumerateRunes())
        {
            switch (rune.Value)
            {
                case '"':
                    builder.Append("\\\"");
                    break;
                case '\\':
                    builder.Append("\\\\");
                    break;
                case '\a':
                    builder.Append("\\a");
                    break;
                case '\b':
                    builder.Append("\\b");
                    break;
                case '\f':
                    builder.Append("\\f");
                    break;
                case '\n':
                    builder.Append("\\n");
                    break;
                case '\r':
                    builder.Append("\\r");
                    break;
                case '\t':
                    builder.Append("\\t");
                    break;
                case '\v':
                    builder.Append("\\v");
                    break;
                default:
                    if (IsPrintable(rune))
                    {
                        builder.Append(rune.ToString());
                    }
                    else if (rune.Value < 0x80)
                    {
                        builder.Append(CultureInfo.InvariantCulture, $"\\x{rune.Value:x2}");
                    }
                    else if (rune.Value < 0x10000)
                    {
                        builder.Append(CultureInfo.InvariantCulture, $"\\u{rune.Value:x4}");
                    }
                    else
                    {
                        builder.Append(CultureInfo.InvariantCulture, $"\\U{rune.Value:x8}");
                    }

                    break;
            }
        }

        return builder.Append('"').ToString();
    }

    /// <summary>A float64 as fmt's %v and %g print it: 8, 0.5, 1e+06, 1e-05.</summary>
    public static string Float(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "+Inf" : "-Inf";
        }

        if (value == 0)
        {
            return double.IsNegative(value) ? "-0" : "0";
        }

        // .NET's round-trip form has the same shortest digits as Go's; only the layout differs.
        var roundTrip = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var exponentAt = roundTrip.IndexOf('E');
        var mantissa = exponentAt < 0 ? roundTrip : roundTrip[..exponentAt];
        var exponent = exponentAt < 0 ? 0 : int.Parse(roundTrip[(exponentAt + 1)..], CultureInfo.InvariantCulture);
        var point = mantissa.IndexOf('.');
        var integerPart = point < 0 ? mantissa : mantissa[..point];
        var digits = point < 0 ? mantissa : integerPart + mantissa[(point + 1)..];
        var decimalPoint = integerPart.Length + exponent;
        var leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        decimalPoint -= leadingZeros;

        var sign = value < 0 ? "-" : "";
        var scientificExponent = decimalPoint - 1;
        if (scientificExponent < -4 || scientificExponent >= 6)
        {
            var fraction = digits.Length > 1 ? "." + digits[1..] : "";
            var exponentSign = scientificExponent < 0 ? '-' : '+';
            var exponentDigits = Math.Abs(scientificExponent).ToString("00", CultureInfo.InvariantCulture);
            return $"{sign}{digits[0]}{fraction}e{exponentSign}{exponentDigits}";
        }

        if (decimalPoint <= 0)
        {
            return $"{sign}0.{new string('0', -decimalPoint)}{digits}";
        }

        if (decimalPoint >= digits.Length)
        {
            return sign + digits + new string('0', decimalPoint - digits.Length);
        }

        return $"{sign}{digits[..decimalPoint]}.{digits[decimalPoint..]}";
    }

    /// <summary>A decoded JSON value as field.Error prints its BadValue: numbers and booleans plain, strings quoted,
    /// null as "null", maps and slices in %#v.</summary>
    public static string Value(JsonNode? node) => JsonData.KindOf(node) switch
    {
        JsonKind.Null => "\"null\"",
        JsonKind.String => Quote(JsonData.GetString(node!)),
        JsonKind.Object or JsonKind.Array => SharpV(node),
        _ => Scalar(node!),
    };

    /// <summary>%#v of a decoded JSON value: <c>map[string]interface {}{"name":"a"}</c>.</summary>
    public static string SharpV(JsonNode? node)
    {
        switch (JsonData.KindOf(node))
        {
            case JsonKind.Null:
                return "interface {}(nil)";
            case JsonKind.String:
                return Quote(JsonData.GetString(node!));
            case JsonKind.Object:
                var entries = ((JsonObject)node!)
                    .OrderBy(entry => entry.Key, StringComparer.Ordinal)
                    .Select(entry => $"{Quote(entry.Key)}:{SharpV(entry.Value)}");
                return $"map[string]interface {{}}{{{string.Join(", ", entries)}}}";
            case JsonKind.Array:
                return $"[]interface {{}}{{{string.Join(", ", ((JsonArray)node!).Select(SharpV))}}}";
            default:
                return Scalar(node!);
        }
    }

    private static string Scalar(JsonNode node) => JsonData.KindOf(node) switch
    {
        JsonKind.Boolean => JsonData.GetBoolean(node) ? "true" : "false",
        JsonKind.Integer => JsonData.TryGetInteger(node, out var integer)
            ? integer.ToString(CultureInfo.InvariantCulture)
            : "0",
        _ => Float(JsonData.GetDouble(node)),
    };

    /// <summary>unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.</summary>
    private static bool IsPrintable(Rune rune)
    {
        if (rune.Value == ' ')
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.SpaceSeparator
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => false,
            _ => true,
        };
    }
}
