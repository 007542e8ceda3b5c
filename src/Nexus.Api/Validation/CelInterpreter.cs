using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Nexus.Api.Validation;

/// <summary>
/// Evaluates a parsed CEL expression. Errors are values (<see cref="CelError"/>) that propagate through every
/// operator except the logical ones, which CEL defines as commutative: <c>false &amp;&amp; error</c> is false and
/// <c>true || error</c> is true whichever side the error is on.
/// </summary>
internal sealed class CelInterpreter
{
    private static readonly ConcurrentDictionary<string, Regex> Patterns = new(StringComparer.Ordinal);
    private static readonly TimeSpan PatternTimeout = TimeSpan.FromSeconds(1);
    private const int MaxCachedPatterns = 512;

    private readonly Dictionary<string, object?> variables;

    private CelInterpreter(Dictionary<string, object?> variables) => this.variables = variables;

    public static object? Evaluate(CelExpr expression, IReadOnlyDictionary<string, object?> variables)
        => new CelInterpreter(new Dictionary<string, object?>(variables, StringComparer.Ordinal)).Eval(expression);

    /// <summary>
    /// Compiles a regular expression once; RE2 syntax is close enough to .NET's for validation patterns. Patterns
    /// can come from the validated data itself, so the cache stops growing at <see cref="MaxCachedPatterns"/>.
    /// </summary>
    public static Regex Pattern(string pattern)
    {
        if (Patterns.TryGetValue(pattern, out var cached))
        {
            return cached;
        }

        var regex = new Regex(pattern, RegexOptions.CultureInvariant, PatternTimeout);
        if (Patterns.Count < MaxCachedPatterns)
        {
            Patterns.TryAdd(pattern, regex);
        }

        return regex;
    }

    private object? Eval(CelExpr expression) => expression switch
    {
        CelLiteral literal => literal.Value,
        CelIdent ident => variables.TryGetValue(ident.Name, out var value)
            ? value
            : new CelError($"no such attribute(s): {ident.Name}"),
        CelSelect select => Select(Eval(select.Operand), select.Field),
        CelHas has => Has(Eval(has.Operand), has.Field),
        CelIndex index => Index(Eval(index.Operand), Eval(index.Index)),
        CelUnary unary => Unary(unary.Operator, Eval(unary.Operand)),
        CelLogical logical => Logical(logical),
        CelConditional conditional => Conditional(conditional),
        CelBinary binary => Binary(binary),
        CelCreateList list => CreateList(list),
        CelCreateMap map => CreateMap(map),
        CelComprehension comprehension => Comprehension(comprehension),
        CelCall call => Call(call),
        _ => new CelError($"unsupported expression {expression.GetType().Name}"),
    };

    private static object? Select(object? operand, string field) => operand switch
    {
        CelError => operand,
        CelMap map => map.TryGetField(field, out var value) ? value : new CelError($"no such key: {field}"),
        _ => new CelError($"type '{CelValues.TypeName(operand)}' does not support field selection"),
    };

    private static object? Has(object? operand, string field) => operand switch
    {
        CelError => operand,
        CelMap map => map.TryGetField(field, out _),
        _ => new CelError($"invalid type for field selection: {CelValues.TypeName(operand)}"),
    };

    private static object? Index(object? operand, object? index)
    {
        if (operand is CelError)
        {
            return operand;
        }

        if (index is CelError)
        {
            return index;
        }

        switch (operand)
        {
            case CelList list:
                long position;
                switch (index)
                {
                    case long signed:
                        position = signed;
                        break;
                    case ulong unsigned when unsigned <= long.MaxValue:
                        position = (long)unsigned;
                        break;
                    case double real when JsonData.IsWhole(real):
                        position = (long)real;
                        break;
                    default:
                        return CelError.NoSuchOverload("_[_]", operand, index);
                }

                return position >= 0 && position < list.Count
                    ? list[(int)position]
                    : new CelError($"index '{position}' out of range in list size '{list.Count}'");
            case CelMap map when index is not null:
                return map.TryGetValue(index is string key && map.IsObject ? CelNames.Unescape(key) : index, out var value)
                    ? value
                    : new CelError($"no such key: {CelValues.Display(index)}");
            default:
                return CelError.NoSuchOverload("_[_]", operand, index);
        }
    }

    private static object? Unary(string op, object? operand)
    {
        if (operand is CelError)
        {
            return operand;
        }

        if (op == "!")
        {
            return operand is bool flag ? !flag : CelError.NoSuchOverload("!_", operand);
        }

        return operand switch
        {
            long integer => integer == long.MinValue ? new CelError("integer overflow") : -integer,
            double real => -real,
            _ => CelError.NoSuchOverload("-_", operand),
        };
    }

    private object? Logical(CelLogical logical)
    {
        // The deciding value: false for &&, true for ||. Either side deciding wins over an error on the other.
        var decisive = !logical.IsAnd;
        var left = Eval(logical.Left);
        if (left is bool leftFlag && leftFlag == decisive)
        {
            return decisive;
        }

        var right = Eval(logical.Right);
        if (right is bool rightFlag && rightFlag == decisive)
        {
            return decisive;
        }

        if (left is bool && right is bool)
        {
            return !decisive;
        }

        if (left is CelError)
        {
            return left;
        }

        if (right is CelError)
        {
            return right;
        }

        return CelError.NoSuchOverload(logical.IsAnd ? "_&&_" : "_||_", left, right);
    }

    private object? Conditional(CelConditional conditional)
    {
        var condition = Eval(conditional.Condition);
        return condition switch
        {
            CelError => condition,
            bool flag => Eval(flag ? conditional.WhenTrue : conditional.WhenFalse),
            _ => CelError.NoSuchOverload("_?_:_", condition),
        };
    }

    private object? Binary(CelBinary binary)
    {
        var left = Eval(binary.Left);
        if (left is CelError)
        {
            return left;
        }

        var right = Eval(binary.Right);
        if (right is CelError)
        {
            return right;
        }

        switch (binary.Operator)
        {
            case "==":
                return CelValues.Equal(left, right);
            case "!=":
                return !CelValues.Equal(left, right);
            case "<" or "<=" or ">" or ">=":
                var comparison = CelValues.Compare(left, right);
                if (comparison is CelError comparisonError)
                {
                    return comparisonError.Message == CelValues.UncomparableMessage
                        ? CelError.NoSuchOverload($"_{binary.Operator}_", left, right)
                        : comparisonError;
                }

                var order = (int)comparison;
                return binary.Operator switch
                {
                    "<" => order < 0,
                    "<=" => order <= 0,
                    ">" => order > 0,
                    _ => order >= 0,
                };
            case "in":
                return right switch
                {
                    CelList list => list.Any(item => CelValues.Equal(item, left)),
                    CelMap map => left is not null && map.ContainsKey(left is string key && map.IsObject ? CelNames.Unescape(key) : left),
                    _ => CelError.NoSuchOverload("@in", left, right),
                };
            default:
                return CelArithmetic.Apply(binary.Operator, left, right);
        }
    }

    private object? CreateList(CelCreateList list)
    {
        var items = new List<object?>(list.Elements.Count);
        foreach (var element in list.Elements)
        {
            var value = Eval(element);
            if (value is CelError)
            {
                return value;
            }

            items.Add(value);
        }

        return new CelList(items);
    }

    private object? CreateMap(CelCreateMap create)
    {
        var map = new CelMap();
        foreach (var (keyExpression, valueExpression) in create.Entries)
        {
            var key = Eval(keyExpression);
            if (key is CelError)
            {
                return key;
            }

            if (key is not (long or ulong or string or bool))
            {
                return new CelError($"unsupported map key type: {CelValues.TypeName(key)}");
            }

            var value = Eval(valueExpression);
            if (value is CelError)
            {
                return value;
            }

            if (!map.TryAdd(key, value))
            {
                return new CelError($"Failed with repeated key: {CelValues.Display(key)}");
            }
        }

        return map;
    }

    private object? Comprehension(CelComprehension comprehension)
    {
        var range = Eval(comprehension.Range);
        IEnumerable<object?> elements;
        switch (range)
        {
            case CelError:
                return range;
            case CelList list:
                elements = list;
                break;
            case CelMap map:
                elements = map.Keys;
                break;
            default:
                return CelError.NoSuchOverload(comprehension.Macro.ToString().ToLowerInvariant(), range);
        }

        var hadOuter = variables.TryGetValue(comprehension.Variable, out var outer);
        try
        {
            return comprehension.Macro switch
            {
                CelMacro.All => Quantify(comprehension, elements, decisive: false),
                CelMacro.Exists => Quantify(comprehension, elements, decisive: true),
                CelMacro.ExistsOne => ExistsOne(comprehension, elements),
                _ => MapOrFilter(comprehension, elements),
            };
        }
        finally
        {
            if (hadOuter)
            {
                variables[comprehension.Variable] = outer;
            }
            else
            {
                variables.Remove(comprehension.Variable);
            }
        }
    }

    /// <summary>all (decisive false) and exists (decisive true): the first deciding element ends the loop; errors on
    /// other elements are absorbed, as in cel-go's expansion of the macros into &amp;&amp; and ||.</summary>
    private object? Quantify(CelComprehension comprehension, IEnumerable<object?> elements, bool decisive)
    {
        object? firstError = null;
        foreach (var element in elements)
        {
            variables[comprehension.Variable] = element;
            var result = Eval(comprehension.Predicate!);
            if (result is bool flag)
            {
                if (flag == decisive)
                {
                    return decisive;
                }
            }
            else
            {
                firstError ??= result as CelError
                    ?? CelError.NoSuchOverload(decisive ? "_||_" : "_&&_", result);
            }
        }

        return firstError ?? !decisive;
    }

    private object? ExistsOne(CelComprehension comprehension, IEnumerable<object?> elements)
    {
        var count = 0;
        foreach (var element in elements)
        {
            variables[comprehension.Variable] = element;
            var result = Eval(comprehension.Predicate!);
            switch (result)
            {
                case CelError:
                    return result;
                case bool flag:
                    count += flag ? 1 : 0;
                    break;
                default:
                    return CelError.NoSuchOverload("_?_:_", result);
            }
        }

        return count == 1;
    }

    private object? MapOrFilter(CelComprehension comprehension, IEnumerable<object?> elements)
    {
        var results = new List<object?>();
        foreach (var element in elements)
        {
            variables[comprehension.Variable] = element;
            if (comprehension.Predicate is { } predicate)
            {
                var keep = Eval(predicate);
                if (keep is CelError)
                {
                    return keep;
                }

                if (keep is not bool keepFlag)
                {
                    return CelError.NoSuchOverload("_?_:_", keep);
                }

                if (!keepFlag)
                {
                    continue;
                }
            }

            var value = comprehension.Transform is { } transform ? Eval(transform) : element;
            if (value is CelError)
            {
                return value;
            }

            results.Add(value);
        }

        return new CelList(results);
    }

    private object? Call(CelCall call)
    {
        var arguments = new object?[call.Arguments.Count + (call.Target is null ? 0 : 1)];
        var offset = 0;
        if (call.Target is { } target)
        {
            arguments[0] = Eval(target);
            offset = 1;
        }

        for (var i = 0; i < call.Arguments.Count; i++)
        {
            arguments[i + offset] = Eval(call.Arguments[i]);
        }

        var error = arguments.FirstOrDefault(argument => argument is CelError);
        if (error is not null)
        {
            return error;
        }

        return call.Target is null ? CelFunctions.Global(call.Function, arguments) : CelFunctions.Method(call.Function, arguments);
    }
}

/// <summary>Arithmetic with CEL's rules: no mixing of int, uint and double; overflow and division by zero are errors.</summary>
internal static class CelArithmetic
{
    public static object? Apply(string op, object? left, object? right)
    {
        try
        {
            return (op, left, right) switch
            {
                ("+", long a, long b) => checked(a + b),
                ("-", long a, long b) => checked(a - b),
                ("*", long a, long b) => checked(a * b),
                ("/", long, 0L) => new CelError("division by zero"),
                ("/", long a, long b) => a == long.MinValue && b == -1 ? new CelError("integer overflow") : a / b,
                ("%", long, 0L) => new CelError("modulus by zero"),
                ("%", long a, long b) => a == long.MinValue && b == -1 ? new CelError("integer overflow") : a % b,
                ("+", ulong a, ulong b) => checked(a + b),
                ("-", ulong a, ulong b) => checked(a - b),
                ("*", ulong a, ulong b) => checked(a * b),
                ("/", ulong, 0UL) => new CelError("division by zero"),
                ("/", ulong a, ulong b) => a / b,
                ("%", ulong, 0UL) => new CelError("modulus by zero"),
                ("%", ulong a, ulong b) => a % b,
                ("+", double a, double b) => a + b,
                ("-", double a, double b) => a - b,
                ("*", double a, double b) => a * b,
                ("/", double a, double b) => a / b,
                ("+", string a, string b) => a + b,
                ("+", CelList a, CelList b) => Concatenate(a, b),
                _ => CelError.NoSuchOverload(OperatorFunction(op), left, right),
            };
        }
        catch (OverflowException)
        {
            return new CelError(left is ulong ? "unsigned integer overflow" : "integer overflow");
        }
    }

    /// <summary>List concatenation; for a set or keyed map-list the API server merges (union; later items replace
    /// earlier ones with the same keys) rather than appending.</summary>
    private static CelList Concatenate(CelList left, CelList right)
    {
        switch (left.Kind)
        {
            case CelListKind.Set:
            {
                var items = left.ToList();
                items.AddRange(right.Where(item => !items.Any(existing => CelValues.Equal(existing, item))));
                return new CelList(items, CelListKind.Set);
            }

            case CelListKind.Map when left.MapKeys.Count > 0:
            {
                var items = left.ToList();
                foreach (var item in right)
                {
                    var existing = items.FindIndex(candidate => CelValues.SameMapKeys(left.MapKeys, candidate, item));
                    if (existing >= 0)
                    {
                        items[existing] = item;
                    }
                    else
                    {
                        items.Add(item);
                    }
                }

                return new CelList(items, CelListKind.Map, left.MapKeys);
            }

            default:
                return new CelList([.. left, .. right]);
        }
    }

    private static string OperatorFunction(string op) => op switch
    {
        "+" => "_+_",
        "-" => "_-_",
        "*" => "_*_",
        "/" => "_/_",
        _ => "_%_",
    };
}

/// <summary>The functions of the subset: size, type conversions, string tests, and a few Kubernetes string helpers.</summary>
internal static class CelFunctions
{
    /// <summary>Global functions and the argument counts they take.</summary>
    public static readonly IReadOnlyDictionary<string, int[]> GlobalArities = new Dictionary<string, int[]>
    {
        ["size"] = [1],
        ["int"] = [1],
        ["uint"] = [1],
        ["double"] = [1],
        ["string"] = [1],
        ["bool"] = [1],
        ["dyn"] = [1],
        ["matches"] = [2],
    };

    /// <summary>Methods (receiver excluded) and the argument counts they take.</summary>
    public static readonly IReadOnlyDictionary<string, int[]> MethodArities = new Dictionary<string, int[]>
    {
        ["size"] = [0],
        ["startsWith"] = [1],
        ["endsWith"] = [1],
        ["contains"] = [1],
        ["matches"] = [1],
        ["lowerAscii"] = [0],
        ["upperAscii"] = [0],
        ["trim"] = [0],
        ["split"] = [1],
        ["join"] = [0, 1],
        ["indexOf"] = [1],
    };

    public static object? Global(string function, object?[] arguments) => function switch
    {
        "size" => Size(arguments[0]),
        "int" => ToInt(arguments[0]),
        "uint" => ToUint(arguments[0]),
        "double" => ToDouble(arguments[0]),
        "string" => ToStringValue(arguments[0]),
        "bool" => ToBool(arguments[0]),
        "dyn" => arguments[0],
        "matches" => Matches(arguments[0], arguments[1]),
        _ => CelError.NoSuchOverload(function, arguments),
    };

    public static object? Method(string function, object?[] arguments) => (function, arguments) switch
    {
        ("size", [var receiver]) => Size(receiver),
        ("startsWith", [string text, string prefix]) => text.StartsWith(prefix, StringComparison.Ordinal),
        ("endsWith", [string text, string suffix]) => text.EndsWith(suffix, StringComparison.Ordinal),
        ("contains", [string text, string part]) => text.Contains(part, StringComparison.Ordinal),
        ("matches", [var text, var pattern]) => Matches(text, pattern),
        ("lowerAscii", [string text]) => MapAscii(text, char.ToLowerInvariant),
        ("upperAscii", [string text]) => MapAscii(text, char.ToUpperInvariant),
        ("trim", [string text]) => text.Trim(),
        ("split", [string text, string separator]) => new CelList(
            (separator.Length == 0 ? text.EnumerateRunes().Select(rune => rune.ToString()) : text.Split(separator))
            .Cast<object?>().ToList()),
        ("join", [CelList list]) => Join(list, ""),
        ("join", [CelList list, string separator]) => Join(list, separator),
        ("indexOf", [string text, string part]) => IndexOfCodePoints(text, part),
        _ => CelError.NoSuchOverload(function, arguments),
    };

    private static object Size(object? value) => value switch
    {
        string text => (long)text.EnumerateRunes().Count(),
        CelList list => (long)list.Count,
        CelMap map => (long)map.Count,
        _ => CelError.NoSuchOverload("size", value),
    };

    private static object ToInt(object? value)
    {
        switch (value)
        {
            case long:
                return value;
            case ulong unsigned:
                return unsigned <= long.MaxValue ? (long)unsigned : new CelError("integer overflow");
            case double real:
                // Doubles at or beyond ±2^63 do not fit; the bounds are exact powers of two.
                return double.IsNaN(real) || real >= 9223372036854775808.0 || real < -9223372036854775808.0
                    ? new CelError("integer overflow")
                    : (long)Math.Truncate(real);
            case string text:
                return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed)
                    ? parsed
                    : new CelError("type conversion error from 'string' to 'int'");
            default:
                return new CelError($"type conversion error from '{CelValues.TypeName(value)}' to 'int'");
        }
    }

    private static object ToUint(object? value)
    {
        switch (value)
        {
            case ulong:
                return value;
            case long signed:
                return signed >= 0 ? (ulong)signed : new CelError("unsigned integer overflow");
            case double real:
                return double.IsNaN(real) || real < 0 || real >= 18446744073709551616.0
                    ? new CelError("unsigned integer overflow")
                    : (ulong)Math.Truncate(real);
            case string text:
                return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)
                    ? parsed
                    : new CelError("type conversion error from 'string' to 'uint'");
            default:
                return new CelError($"type conversion error from '{CelValues.TypeName(value)}' to 'uint'");
        }
    }

    private static object ToDouble(object? value) => value switch
    {
        double => value,
        long integer => (double)integer,
        ulong unsigned => (double)unsigned,
        string text when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => new CelError($"type conversion error from '{CelValues.TypeName(value)}' to 'double'"),
    };

    private static object ToStringValue(object? value) => value switch
    {
        string or long or ulong or double or bool => CelValues.Display(value),
        _ => new CelError($"type conversion error from '{CelValues.TypeName(value)}' to 'string'"),
    };

    private static object ToBool(object? value) => value switch
    {
        bool => value,
        string text when text is "true" or "True" or "TRUE" or "t" or "1" => true,
        string text when text is "false" or "False" or "FALSE" or "f" or "0" => false,
        _ => new CelError($"type conversion error from '{CelValues.TypeName(value)}' to 'bool'"),
    };

    private static object Matches(object? text, object? pattern)
    {
        if (text is not string input || pattern is not string expression)
        {
            return CelError.NoSuchOverload("matches", text, pattern);
        }

        try
        {
            return CelInterpreter.Pattern(expression).IsMatch(input);
        }
        catch (ArgumentException e)
        {
            return new CelError($"error parsing regexp: {e.Message}");
        }
        catch (RegexMatchTimeoutException)
        {
            return new CelError("regular expression evaluation timed out");
        }
    }

    private static string MapAscii(string text, Func<char, char> map)
        => string.Create(text.Length, text, (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsAscii(source[i]) ? map(source[i]) : source[i];
            }
        });

    private static object Join(CelList list, string separator)
    {
        if (list.Any(item => item is not string))
        {
            return CelError.NoSuchOverload("join", list);
        }

        return string.Join(separator, list.Cast<string>());
    }

    private static long IndexOfCodePoints(string text, string part)
    {
        var index = text.IndexOf(part, StringComparison.Ordinal);
        return index < 0 ? -1 : text.AsSpan(0, index).ToString().EnumerateRunes().Count();
    }
}
