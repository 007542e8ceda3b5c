using System.Text;

namespace Nexus.Api.Validation;

/// <summary>What a compiled expression must produce where the compiler can tell: a rule a bool, a messageExpression
/// a string.</summary>
internal enum CelResultKind
{
    Any,
    Bool,
    String,
}

/// <summary>A CEL expression that does not compile; the message has cel-go's shape and quotes the expression.</summary>
public sealed class CelCompileException(string expression, string message) : Exception(message)
{
    public string Expression { get; } = expression;
}

/// <summary>An evaluation error: <c>no such key: foo</c>, <c>integer overflow</c>, <c>division by zero</c>, ...</summary>
public sealed class CelEvaluationException(string message) : Exception(message);

/// <summary>
/// A compiled Common Expression Language program for x-kubernetes-validations rules.
/// <para>
/// The API server runs rules with cel-go; no CEL implementation for .NET is served here, so this is a small
/// interpreter of the subset CRD rules use (lexer, recursive-descent parser, tree-walking evaluator over dynamic
/// values): int/uint/double/string/bool/null literals, lists and maps, <c>self</c> and <c>oldSelf</c>, field
/// selection and indexing, <c>has()</c>, <c>size()</c>, <c>in</c>, arithmetic with overflow errors, comparisons across
/// numeric types, commutative <c>&amp;&amp;</c>/<c>||</c>, <c>?:</c>, string tests (<c>startsWith</c>,
/// <c>endsWith</c>, <c>contains</c>, <c>matches</c>), conversions (<c>int</c>, <c>uint</c>, <c>double</c>,
/// <c>string</c>, <c>bool</c>), the list macros (<c>all</c>, <c>exists</c>, <c>exists_one</c>, <c>map</c>,
/// <c>filter</c>) and Kubernetes' <c>lowerAscii</c>, <c>upperAscii</c>, <c>trim</c>, <c>split</c>, <c>join</c>,
/// <c>indexOf</c>.
/// </para>
/// <para>
/// Not covered: bytes, timestamps and durations (date-time strings stay strings), optionals, the type checker
/// (a misuse cel-go rejects at compile time, such as <c>1 + 'a'</c>, is a runtime "no such overload" here), cost
/// limits, and Kubernetes' quantity/IP/URL libraries. Unknown functions and undeclared names are compile errors.
/// </para>
/// </summary>
public sealed class CelProgram
{
    /// <summary>The variables of an x-kubernetes-validations rule.</summary>
    public static readonly IReadOnlyList<string> RuleVariables = ["self", "oldSelf"];

    private readonly CelExpr root;

    private CelProgram(string expression, CelExpr root, IReadOnlySet<string> referencedVariables)
    {
        Expression = expression;
        this.root = root;
        ReferencedVariables = referencedVariables;
    }

    public string Expression { get; }

    /// <summary>The declared variables the expression reads (outside any macro that rebinds the name).</summary>
    public IReadOnlySet<string> ReferencedVariables { get; }

    /// <summary>Whether this is a transition rule, evaluated only on update.</summary>
    public bool ReferencesOldSelf => ReferencedVariables.Contains("oldSelf");

    /// <summary>Compiles a rule over <c>self</c> and <c>oldSelf</c>.</summary>
    /// <exception cref="CelCompileException">A syntax error, an undeclared name or an unknown function.</exception>
    public static CelProgram Compile(string rule) => Compile(rule, RuleVariables);

    /// <summary>Compiles an expression over the given variables.</summary>
    public static CelProgram Compile(string expression, IEnumerable<string> variables)
        => Compile(expression, variables, CelResultKind.Any);

    internal static CelProgram Compile(string expression, IEnumerable<string> variables, CelResultKind resultKind)
    {
        ArgumentNullException.ThrowIfNull(expression);
        try
        {
            var root = CelParser.Parse(expression);
            var referenced = CelChecker.Check(root, variables.ToHashSet(StringComparer.Ordinal));
            CelChecker.CheckResultKind(root, resultKind);
            return new CelProgram(expression, root, referenced);
        }
        catch (CelSyntaxException e)
        {
            throw new CelCompileException(expression, Render(expression, e));
        }
    }

    /// <summary>
    /// Evaluates the program. Variables are CEL values or .NET values that convert: integers, doubles, strings,
    /// booleans, null, JSON nodes, dictionaries and sequences. The result is a long, ulong, double, string, bool,
    /// null, <see cref="IReadOnlyList{T}"/> or <see cref="IReadOnlyDictionary{TKey,TValue}"/>.
    /// </summary>
    /// <exception cref="CelEvaluationException">The expression evaluates to an error.</exception>
    public object? Evaluate(IReadOnlyDictionary<string, object?> variables)
    {
        var result = EvaluateValue(variables.ToDictionary(entry => entry.Key, entry => CelValues.FromDotNet(entry.Value)));
        return result is CelError error ? throw new CelEvaluationException(error.Message) : result;
    }

    /// <summary>Evaluates with CEL values bound; an error comes back as a <see cref="CelError"/> value.</summary>
    internal object? EvaluateValue(IReadOnlyDictionary<string, object?> variables) => CelInterpreter.Evaluate(root, variables);

    /// <summary>cel-go's error layout: location, message, the source line and a caret under the column.</summary>
    private static string Render(string expression, CelSyntaxException error)
    {
        var position = Math.Clamp(error.Position, 0, expression.Length);
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < position; i++)
        {
            if (expression[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        var lineEnd = expression.IndexOf('\n', lineStart);
        var sourceLine = expression[lineStart..(lineEnd < 0 ? expression.Length : lineEnd)].Replace('\t', ' ');
        var column = position - lineStart;
        var message = new StringBuilder()
            .Append("compilation failed: ERROR: <input>:").Append(line).Append(':').Append(column + 1).Append(": ")
            .Append(error.Message)
            .Append("\n | ").Append(sourceLine)
            .Append("\n | ").Append('.', column).Append('^');
        return message.ToString();
    }
}

/// <summary>
/// The compile-time checks that need no types: every name is declared or bound by a macro, every function exists
/// with that many arguments, constant regular expressions parse, and a rule is not obviously a non-bool.
/// </summary>
internal static class CelChecker
{
    public static IReadOnlySet<string> Check(CelExpr root, HashSet<string> declared)
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        Visit(root, declared, [], referenced);
        return referenced;
    }

    private static void Visit(CelExpr expression, HashSet<string> declared, List<string> bound, HashSet<string> referenced)
    {
        switch (expression)
        {
            case CelIdent ident:
                if (bound.Contains(ident.Name))
                {
                    return;
                }

                if (!declared.Contains(ident.Name))
                {
                    throw new CelSyntaxException(ident.Position, $"undeclared reference to '{ident.Name}' (in container '')");
                }

                referenced.Add(ident.Name);
                return;
            case CelSelect select:
                Visit(select.Operand, declared, bound, referenced);
                return;
            case CelHas has:
                Visit(has.Operand, declared, bound, referenced);
                return;
            case CelIndex index:
                Visit(index.Operand, declared, bound, referenced);
                Visit(index.Index, declared, bound, referenced);
                return;
            case CelUnary unary:
                Visit(unary.Operand, declared, bound, referenced);
                return;
            case CelBinary binary:
                Visit(binary.Left, declared, bound, referenced);
                Visit(binary.Right, declared, bound, referenced);
                return;
            case CelLogical logical:
                Visit(logical.Left, declared, bound, referenced);
                Visit(logical.Right, declared, bound, referenced);
                return;
            case CelConditional conditional:
                Visit(conditional.Condition, declared, bound, referenced);
                Visit(conditional.WhenTrue, declared, bound, referenced);
                Visit(conditional.WhenFalse, declared, bound, referenced);
                return;
            case CelCreateList list:
                foreach (var element in list.Elements)
                {
                    Visit(element, declared, bound, referenced);
                }

                return;
            case CelCreateMap map:
                foreach (var (key, value) in map.Entries)
                {
                    Visit(key, declared, bound, referenced);
                    Visit(value, declared, bound, referenced);
                }

                return;
            case CelComprehension comprehension:
                Visit(comprehension.Range, declared, bound, referenced);
                bound.Add(comprehension.Variable);
                if (comprehension.Predicate is { } predicate)
                {
                    Visit(predicate, declared, bound, referenced);
                }

                if (comprehension.Transform is { } transform)
                {
                    Visit(transform, declared, bound, referenced);
                }

                bound.RemoveAt(bound.Count - 1);
                return;
            case CelCall call:
                CheckCall(call);
                if (call.Target is { } target)
                {
                    Visit(target, declared, bound, referenced);
                }

                foreach (var argument in call.Arguments)
                {
                    Visit(argument, declared, bound, referenced);
                }

                return;
        }
    }

    private static void CheckCall(CelCall call)
    {
        var table = call.Target is null ? CelFunctions.GlobalArities : CelFunctions.MethodArities;
        if (!table.TryGetValue(call.Function, out var arities))
        {
            throw new CelSyntaxException(call.Position, call.Target is null
                ? $"undeclared reference to '{call.Function}' (in container '')"
                : $"undeclared reference to '{call.Function}' (in container ''): no such method");
        }

        if (!arities.Contains(call.Arguments.Count))
        {
            throw new CelSyntaxException(call.Position,
                $"found no matching overload for '{call.Function}' applied to {call.Arguments.Count} argument(s)");
        }

        if (call.Function == "matches" && call.Arguments[^1] is CelLiteral { Value: string pattern })
        {
            try
            {
                CelInterpreter.Pattern(pattern);
            }
            catch (ArgumentException e)
            {
                throw new CelSyntaxException(call.Arguments[^1].Position, $"invalid matches argument: {e.Message}");
            }
        }
    }

    /// <summary>Rejects a result that is certainly of the wrong type; dynamic results are checked at evaluation.</summary>
    public static void CheckResultKind(CelExpr root, CelResultKind kind)
    {
        var known = StaticType(root);
        var expected = kind switch
        {
            CelResultKind.Bool => "bool",
            CelResultKind.String => "string",
            _ => null,
        };
        if (expected is not null && known is not null && known != expected)
        {
            throw new CelSyntaxException(root.Position,
                kind == CelResultKind.Bool ? "cel expression must evaluate to a bool" : "messageExpression must evaluate to a string");
        }
    }

    private static string? StaticType(CelExpr expression) => expression switch
    {
        CelLiteral { Value: null } => "null_type",
        CelLiteral literal => CelValues.TypeName(literal.Value),
        CelCreateList => "list",
        CelCreateMap => "map",
        CelHas or CelLogical => "bool",
        CelUnary { Operator: "!" } => "bool",
        CelBinary { Operator: "==" or "!=" or "<" or "<=" or ">" or ">=" or "in" } => "bool",
        CelBinary binary when StaticType(binary.Left) is { } left && left == StaticType(binary.Right) => left,
        CelComprehension { Macro: CelMacro.Map or CelMacro.Filter } => "list",
        CelComprehension => "bool",
        CelCall { Function: "size" or "int" or "indexOf" } => "int",
        CelCall { Function: "string" or "lowerAscii" or "upperAscii" or "trim" or "join" } => "string",
        CelCall { Function: "startsWith" or "endsWith" or "contains" or "matches" or "bool" } => "bool",
        CelConditional conditional when StaticType(conditional.WhenTrue) is { } whenTrue
            && whenTrue == StaticType(conditional.WhenFalse) => whenTrue,
        _ => null,
    };
}
