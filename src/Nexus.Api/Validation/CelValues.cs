using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Nexus.Api.Validation;

/// <summary>
/// An evaluation error carried as a value, as in cel-go: it lets <c>false &amp;&amp; error</c> be false while
/// <c>true &amp;&amp; error</c> stays an error.
/// </summary>
internal sealed class CelError(string message)
{
    public string Message { get; } = message;

    public override string ToString() => Message;

    public static CelError NoSuchOverload(string function, params object?[] operands)
        => new($"no such overload: {function}({string.Join(", ", operands.Select(CelValues.TypeName))})");
}

/// <summary>How a list compares and concatenates: by position, or as a set or a keyed map (order-insensitive), as
/// the API server types lists with x-kubernetes-list-type.</summary>
internal enum CelListKind
{
    Atomic,
    Set,
    Map,
}

internal sealed class CelList(IReadOnlyList<object?> items, CelListKind kind = CelListKind.Atomic, IReadOnlyList<string>? mapKeys = null)
    : IReadOnlyList<object?>
{
    public CelListKind Kind { get; } = kind;
    public IReadOnlyList<string> MapKeys { get; } = mapKeys ?? [];

    public object? this[int index] => items[index];

    public int Count => items.Count;

    public IEnumerator<object?> GetEnumerator() => items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A CEL map, and also the value of a schema object (<see cref="IsObject"/>): the same lookups, but an
/// object's field names arrive escaped (<c>x__dash__y</c> for <c>x-y</c>) and its null fields count as absent.</summary>
internal sealed class CelMap : IReadOnlyDictionary<object, object?>
{
    private readonly Dictionary<object, object?> entries = new(CelKeyComparer.Instance);
    private readonly List<object> keys = [];

    public CelMap(bool isObject = false) => IsObject = isObject;

    public bool IsObject { get; }

    public int Count => keys.Count;

    public IEnumerable<object> Keys => keys;

    public IEnumerable<object?> Values => keys.Select(key => entries[key]);

    public object? this[object key] => entries[key];

    /// <summary>Adds an entry; false when the key is already there.</summary>
    public bool TryAdd(object key, object? value)
    {
        if (!entries.TryAdd(key, value))
        {
            return false;
        }

        keys.Add(key);
        return true;
    }

    public bool ContainsKey(object key) => entries.ContainsKey(key);

    public bool TryGetValue(object key, [MaybeNullWhen(false)] out object? value) => entries.TryGetValue(key, out value);

    /// <summary>Looks up a selected field, unescaping the name on objects.</summary>
    public bool TryGetField(string name, out object? value)
        => entries.TryGetValue(IsObject ? CelNames.Unescape(name) : name, out value);

    public IEnumerator<KeyValuePair<object, object?>> GetEnumerator()
        => keys.Select(key => new KeyValuePair<object, object?>(key, entries[key])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Map keys as CEL compares them: numbers by value across int, uint and double; strings ordinally.</summary>
internal sealed class CelKeyComparer : IEqualityComparer<object>
{
    public static readonly CelKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => CelValues.Equal(x, y);

    public int GetHashCode(object value) => value switch
    {
        long integer => integer.GetHashCode(),
        ulong unsigned when unsigned <= long.MaxValue => ((long)unsigned).GetHashCode(),
        double real when JsonData.IsWhole(real) => ((long)real).GetHashCode(),
        _ => value.GetHashCode(),
    };
}

/// <summary>The Kubernetes escaping of property names that are not CEL identifiers (apiserver/pkg/cel/escaping.go).</summary>
internal static class CelNames
{
    private static readonly HashSet<string> ReservedWords =
    [
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if", "import",
        "let", "loop", "package", "namespace", "return", "var", "void", "while",
    ];

    public static string Unescape(string name)
    {
        if (name.Length > 4 && name.StartsWith("__", StringComparison.Ordinal) && name.EndsWith("__", StringComparison.Ordinal)
            && ReservedWords.Contains(name[2..^2]))
        {
            return name[2..^2];
        }

        if (!name.Contains("__", StringComparison.Ordinal))
        {
            return name;
        }

        return name.Replace("__underscores__", "__", StringComparison.Ordinal)
            .Replace("__dot__", ".", StringComparison.Ordinal)
            .Replace("__dash__", "-", StringComparison.Ordinal)
            .Replace("__slash__", "/", StringComparison.Ordinal);
    }
}

/// <summary>Conversions into CEL values, and CEL's equality and ordering.</summary>
internal static class CelValues
{
    public static string TypeName(object? value) => value switch
    {
        null => "null_type",
        bool => "bool",
        long => "int",
        ulong => "uint",
        double => "double",
        string => "string",
        CelList => "list",
        CelMap => "map",
        CelError => "error",
        _ => value.GetType().Name,
    };

    /// <summary>
    /// A JSON value typed by its schema, as the API server's UnstructuredToVal does: "number" is always a double,
    /// "integer" an int, objects with properties are objects (null fields absent), lists carry their list type.
    /// Without a schema (preserve-unknown-fields) JSON decides.
    /// </summary>
    public static object? FromJson(JsonNode? node, StructuralSchema? schema)
    {
        switch (JsonData.KindOf(node))
        {
            case JsonKind.Null:
                return null;
            case JsonKind.Boolean:
                return JsonData.GetBoolean(node!);
            case JsonKind.String:
                return JsonData.GetString(node!);
            case JsonKind.Integer:
                if (schema?.Type == "number")
                {
                    return JsonData.GetDouble(node!);
                }

                JsonData.TryGetInteger(node, out var integer);
                return integer;
            case JsonKind.Number:
                var real = JsonData.GetDouble(node!);
                return schema?.Type == "integer" || schema?.IntOrString == true ? (long)real : real;
            case JsonKind.Array:
                var items = ((JsonArray)node!).Select(item => FromJson(item, schema?.Items)).ToList();
                var kind = schema?.ListType switch
                {
                    "set" => CelListKind.Set,
                    "map" => CelListKind.Map,
                    _ => CelListKind.Atomic,
                };
                return new CelList(items, kind, schema?.ListMapKeys);
            default:
                var isObject = schema is { HasProperties: true };
                var map = new CelMap(isObject);
                foreach (var (key, value) in (JsonObject)node!)
                {
                    if (isObject && value is null)
                    {
                        continue;
                    }

                    var fieldSchema = schema?.PropertiesByName.GetValueOrDefault(key) ?? schema?.AdditionalProperties;
                    map.TryAdd(key, FromJson(value, fieldSchema));
                }

                return map;
        }
    }

    /// <summary>A caller's .NET value as a CEL value: integers become int, floats double, JSON nodes, dictionaries and
    /// sequences maps and lists.</summary>
    public static object? FromDotNet(object? value)
    {
        switch (value)
        {
            case null or bool or long or ulong or double or string or CelList or CelMap:
                return value;
            case int or short or sbyte or byte:
                return Convert.ToInt64(value, CultureInfo.InvariantCulture);
            case uint or ushort:
                return Convert.ToUInt64(value, CultureInfo.InvariantCulture);
            case float or decimal:
                return Convert.ToDouble(value, CultureInfo.InvariantCulture);
            case JsonNode node:
                return FromJson(node, null);
            case IDictionary dictionary:
            {
                var map = new CelMap();
                foreach (DictionaryEntry entry in dictionary)
                {
                    map.TryAdd(FromDotNet(entry.Key)!, FromDotNet(entry.Value));
                }

                return map;
            }

            case IEnumerable<KeyValuePair<string, object?>> pairs:
            {
                var map = new CelMap();
                foreach (var (key, item) in pairs)
                {
                    map.TryAdd(key, FromDotNet(item));
                }

                return map;
            }

            case IEnumerable sequence:
                return new CelList(sequence.Cast<object?>().Select(FromDotNet).ToList());
            default:
                throw new ArgumentException($"A {value.GetType().Name} has no CEL value.");
        }
    }

    /// <summary>
    /// CEL's heterogeneous equality: numbers by value across int, uint and double; values of different types unequal;
    /// lists by position (sets and keyed map-lists regardless of order); maps entry by entry.
    /// </summary>
    public static bool Equal(object? left, object? right)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            return CompareNumbers(left!, right!) == 0;
        }

        switch (left)
        {
            case null:
                return right is null;
            case bool flag:
                return right is bool other && flag == other;
            case string text:
                return right is string otherText && string.Equals(text, otherText, StringComparison.Ordinal);
            case CelList list:
                return right is CelList otherList && ListsEqual(list, otherList);
            case CelMap map:
                return right is CelMap otherMap && map.Count == otherMap.Count
                    && map.All(entry => otherMap.TryGetValue(entry.Key, out var value) && Equal(entry.Value, value));
            default:
                return false;
        }
    }

    private static bool ListsEqual(CelList left, CelList right)
    {
        if (left.Count != right.Count)
        {
            return false;
        }

        switch (left.Kind)
        {
            case CelListKind.Set:
                return left.All(item => right.Any(other => Equal(item, other)))
                    && right.All(item => left.Any(other => Equal(item, other)));
            case CelListKind.Map when left.MapKeys.Count > 0:
                return left.All(item => right.Any(other => SameMapKeys(left.MapKeys, item, other) && Equal(item, other)));
            default:
                for (var i = 0; i < left.Count; i++)
                {
                    if (!Equal(left[i], right[i]))
                    {
                        return false;
                    }
                }

                return true;
        }
    }

    /// <summary>Whether two items of a map-list have the same key fields (absent counting as a value).</summary>
    public static bool SameMapKeys(IReadOnlyList<string> mapKeys, object? left, object? right)
    {
        if (left is not CelMap leftMap || right is not CelMap rightMap)
        {
            return false;
        }

        foreach (var key in mapKeys)
        {
            var leftHas = leftMap.TryGetValue(key, out var leftValue);
            var rightHas = rightMap.TryGetValue(key, out var rightValue);
            if (leftHas != rightHas || (leftHas && !Equal(leftValue, rightValue)))
            {
                return false;
            }
        }

        return true;
    }

    public const string UncomparableMessage = "no such overload";

    public static bool IsNumber(object? value) => value is long or ulong or double;

    /// <summary>Orders two values of comparable types, or returns the error CEL gives.</summary>
    public static object Compare(object? left, object? right)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            if (left is double leftReal && double.IsNaN(leftReal) || right is double rightReal && double.IsNaN(rightReal))
            {
                return new CelError("NaN values cannot be ordered");
            }

            return CompareNumbers(left!, right!);
        }

        return (left, right) switch
        {
            (string a, string b) => Math.Sign(CompareCodePoints(a, b)),
            (bool a, bool b) => a.CompareTo(b),
            _ => new CelError(UncomparableMessage),
        };
    }

    private static int CompareNumbers(object left, object right)
    {
        switch (left, right)
        {
            case (long a, long b):
                return a.CompareTo(b);
            case (ulong a, ulong b):
                return a.CompareTo(b);
            case (long a, ulong b):
                return a < 0 ? -1 : ((ulong)a).CompareTo(b);
            case (ulong a, long b):
                return b < 0 ? 1 : a.CompareTo((ulong)b);
        }

        var leftReal = ToDouble(left);
        var rightReal = ToDouble(right);
        if (double.IsNaN(leftReal) || double.IsNaN(rightReal))
        {
            return int.MinValue;
        }

        // Compare a double with an integer exactly: only whole doubles in range can equal it.
        if (left is double && right is long or ulong)
        {
            return -CompareIntegerWithDouble(right, leftReal);
        }

        if (right is double && left is long or ulong)
        {
            return CompareIntegerWithDouble(left, rightReal);
        }

        return leftReal.CompareTo(rightReal);
    }

    private static int CompareIntegerWithDouble(object integer, double real)
    {
        if (real >= 18446744073709551616.0)
        {
            return -1;
        }

        if (real < -9223372036854775808.0)
        {
            return 1;
        }

        var floor = Math.Floor(real);
        int integralComparison;
        if (integer is long signed)
        {
            if (floor >= 9223372036854775808.0)
            {
                return -1;
            }

            integralComparison = signed.CompareTo((long)floor);
        }
        else
        {
            var unsigned = (ulong)integer;
            if (floor < 0)
            {
                return 1;
            }

            integralComparison = unsigned.CompareTo((ulong)floor);
        }

        if (integralComparison != 0)
        {
            return integralComparison;
        }

        return floor == real ? 0 : -1;
    }

    private static double ToDouble(object number) => number switch
    {
        long integer => integer,
        ulong unsigned => unsigned,
        _ => (double)number,
    };

    /// <summary>Strings ordered by Unicode code point, as Go compares UTF-8 bytes (UTF-16 order differs above U+FFFF).</summary>
    public static int CompareCodePoints(string left, string right)
    {
        var length = Math.Min(left.Length, right.Length);
        for (var i = 0; i < length; i++)
        {
            var a = left[i];
            var b = right[i];
            if (a == b)
            {
                continue;
            }

            if (char.IsSurrogate(a) != char.IsSurrogate(b))
            {
                return char.IsSurrogate(a) ? 1 : -1;
            }

            return a.CompareTo(b);
        }

        return left.Length.CompareTo(right.Length);
    }

    /// <summary>A value rendered for messages and string(): ints plain, doubles as Go's %g, strings as they are.</summary>
    public static string Display(object? value) => value switch
    {
        null => "null",
        bool flag => flag ? "true" : "false",
        long integer => integer.ToString(CultureInfo.InvariantCulture),
        ulong unsigned => unsigned.ToString(CultureInfo.InvariantCulture),
        double real => GoSyntax.Float(real),
        string text => text,
        CelList list => $"[{string.Join(", ", list.Select(Display))}]",
        CelMap map => $"{{{string.Join(", ", map.Select(entry => $"{Display(entry.Key)}: {Display(entry.Value)}"))}}}",
        _ => value.ToString() ?? "",
    };
}
