using System.Globalization;
using System.Text;

namespace Nexus.Api.Validation;

/// <summary>A syntax or declaration error at an offset of the source; <see cref="CelProgram.Compile(string)"/> renders
/// it the way cel-go does.</summary>
internal sealed class CelSyntaxException(int position, string message) : Exception(message)
{
    public int Position { get; } = position;
}

internal enum CelTokenKind
{
    Int,
    Uint,
    Double,
    String,
    Ident,
    Operator,
    End,
}

/// <summary>A token; an int's <see cref="Value"/> is its magnitude as a ulong so that -9223372036854775808 parses.</summary>
internal readonly record struct CelToken(CelTokenKind Kind, string Text, int Position, object? Value);

/// <summary>The CEL lexer: numbers (decimal, hex, u suffix, doubles), quoted and raw strings, identifiers, operators.</summary>
internal static class CelLexer
{
    private static readonly string[] Operators =
        ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}"];

    /// <summary>Words the CEL grammar keeps for itself or for later versions; they cannot name anything.</summary>
    private static readonly HashSet<string> Reserved =
    [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package",
        "namespace", "return", "var", "void", "while",
    ];

    public static List<CelToken> Tokenize(string source)
    {
        var tokens = new List<CelToken>();
        var position = 0;
        while (true)
        {
            position = SkipSpaceAndComments(source, position);
            if (position >= source.Length)
            {
                tokens.Add(new CelToken(CelTokenKind.End, "", position, null));
                return tokens;
            }

            var c = source[position];
            var previousEndsOperand = tokens.Count > 0 && EndsOperand(tokens[^1]);
            if (char.IsAsciiDigit(c)
                || (c == '.' && !previousEndsOperand && position + 1 < source.Length && char.IsAsciiDigit(source[position + 1])))
            {
                tokens.Add(ReadNumber(source, ref position));
            }
            else if (IsStringStart(source, position))
            {
                tokens.Add(ReadString(source, ref position));
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                var start = position;
                while (position < source.Length && (char.IsAsciiLetterOrDigit(source[position]) || source[position] == '_'))
                {
                    position++;
                }

                var word = source[start..position];
                if (Reserved.Contains(word))
                {
                    throw new CelSyntaxException(start, $"Syntax error: reserved identifier: {word}");
                }

                tokens.Add(word == "in"
                    ? new CelToken(CelTokenKind.Operator, word, start, null)
                    : new CelToken(CelTokenKind.Ident, word, start, null));
            }
            else
            {
                var op = Operators.FirstOrDefault(candidate => string.CompareOrdinal(source, position, candidate, 0, candidate.Length) == 0)
                    ?? throw new CelSyntaxException(position, $"Syntax error: token recognition error at: '{c}'");
                tokens.Add(new CelToken(CelTokenKind.Operator, op, position, null));
                position += op.Length;
            }
        }
    }

    private static bool EndsOperand(CelToken token) => token.Kind switch
    {
        CelTokenKind.Operator => token.Text is ")" or "]" or "}",
        CelTokenKind.End => false,
        _ => true,
    };

    private static int SkipSpaceAndComments(string source, int position)
    {
        while (position < source.Length)
        {
            if (char.IsWhiteSpace(source[position]))
            {
                position++;
            }
            else if (source[position] == '/' && position + 1 < source.Length && source[position + 1] == '/')
            {
                while (position < source.Length && source[position] != '\n')
                {
                    position++;
                }
            }
            else
            {
                break;
            }
        }

        return position;
    }

    private static CelToken ReadNumber(string source, ref int position)
    {
        var start = position;
        if (source[position] == '0' && position + 1 < source.Length && source[position + 1] is 'x' or 'X')
        {
            position += 2;
            var digitsStart = position;
            while (position < source.Length && char.IsAsciiHexDigit(source[position]))
            {
                position++;
            }

            var hex = source[digitsStart..position];
            if (hex.Length == 0 || !ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hexValue))
            {
                throw new CelSyntaxException(start, $"Syntax error: invalid int literal: {source[start..position]}");
            }

            return IntegerToken(source, start, ref position, hexValue);
        }

        while (position < source.Length && char.IsAsciiDigit(source[position]))
        {
            position++;
        }

        var isDouble = false;
        if (position + 1 < source.Length && source[position] == '.' && char.IsAsciiDigit(source[position + 1]))
        {
            isDouble = true;
            position++;
            while (position < source.Length && char.IsAsciiDigit(source[position]))
            {
                position++;
            }
        }

        if (position < source.Length && source[position] is 'e' or 'E')
        {
            var exponentStart = position;
            position++;
            if (position < source.Length && source[position] is '+' or '-')
            {
                position++;
            }

            if (position < source.Length && char.IsAsciiDigit(source[position]))
            {
                isDouble = true;
                while (position < source.Length && char.IsAsciiDigit(source[position]))
                {
                    position++;
                }
            }
            else
            {
                position = exponentStart;
            }
        }

        var text = source[start..position];
        if (isDouble)
        {
            return new CelToken(CelTokenKind.Double, text, start, double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
        }

        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw new CelSyntaxException(start, $"Syntax error: invalid int literal: {text}");
        }

        return IntegerToken(source, start, ref position, value);
    }

    private static CelToken IntegerToken(string source, int start, ref int position, ulong value)
    {
        if (position < source.Length && source[position] is 'u' or 'U')
        {
            position++;
            return new CelToken(CelTokenKind.Uint, source[start..position], start, value);
        }

        return new CelToken(CelTokenKind.Int, source[start..position], start, value);
    }

    private static bool IsStringStart(string source, int position)
    {
        var c = source[position];
        if (c is '"' or '\'')
        {
            return true;
        }

        if (c is 'r' or 'R' or 'b' or 'B')
        {
            var next = position + 1 < source.Length ? source[position + 1] : '\0';
            if (next is '"' or '\'')
            {
                return true;
            }

            var afterNext = position + 2 < source.Length ? source[position + 2] : '\0';
            var pairedPrefix = (c is 'r' or 'R' && next is 'b' or 'B') || (c is 'b' or 'B' && next is 'r' or 'R');
            return pairedPrefix && afterNext is '"' or '\'';
        }

        return false;
    }

    private static CelToken ReadString(string source, ref int position)
    {
        var start = position;
        var raw = false;
        var bytes = false;
        while (source[position] is not ('"' or '\''))
        {
            raw |= source[position] is 'r' or 'R';
            bytes |= source[position] is 'b' or 'B';
            position++;
        }

        if (bytes)
        {
            throw new CelSyntaxException(start, "Syntax error: bytes literals are not supported by this CEL subset");
        }

        var quote = source[position];
        var triple = position + 2 < source.Length && source[position + 1] == quote && source[position + 2] == quote;
        var delimiter = triple ? new string(quote, 3) : quote.ToString();
        position += delimiter.Length;

        var text = new StringBuilder();
        while (true)
        {
            if (position >= source.Length || (!triple && source[position] == '\n'))
            {
                throw new CelSyntaxException(start, "Syntax error: unterminated string literal");
            }

            if (string.CompareOrdinal(source, position, delimiter, 0, delimiter.Length) == 0)
            {
                position += delimiter.Length;
                return new CelToken(CelTokenKind.String, source[start..position], start, text.ToString());
            }

            if (source[position] == '\\' && !raw)
            {
                position = ReadEscape(source, position, text);
            }
            else
            {
                text.Append(source[position]);
                position++;
            }
        }
    }

    private static int ReadEscape(string source, int position, StringBuilder text)
    {
        var escapeStart = position;
        position++;
        if (position >= source.Length)
        {
            throw new CelSyntaxException(escapeStart, "Syntax error: unterminated string literal");
        }

        var c = source[position];
        position++;
        switch (c)
        {
            case 'a': text.Append('\a'); return position;
            case 'b': text.Append('\b'); return position;
            case 'f': text.Append('\f'); return position;
            case 'n': text.Append('\n'); return position;
            case 'r': text.Append('\r'); return position;
            case 't': text.Append('\t'); return position;
            case 'v': text.Append('\v'); return position;
            case '\\' or '\'' or '"' or '`' or '?': text.Append(c); return position;
            case 'x' or 'X': return AppendCodePoint(source, position, 2, 16, escapeStart, text);
            case 'u': return AppendCodePoint(source, position, 4, 16, escapeStart, text);
            case 'U': return AppendCodePoint(source, position, 8, 16, escapeStart, text);
            case >= '0' and <= '3': return AppendCodePoint(source, position - 1, 3, 8, escapeStart, text);
            default:
                throw new CelSyntaxException(escapeStart, $"Syntax error: invalid escape sequence \\{c}");
        }
    }

    private static int AppendCodePoint(string source, int position, int length, int radix, int escapeStart, StringBuilder text)
    {
        if (position + length > source.Length)
        {
            throw new CelSyntaxException(escapeStart, "Syntax error: invalid escape sequence");
        }

        var digits = source.Substring(position, length);
        int codePoint;
        try
        {
            codePoint = Convert.ToInt32(digits, radix);
        }
        catch (FormatException)
        {
            throw new CelSyntaxException(escapeStart, $"Syntax error: invalid escape sequence {digits}");
        }

        if (!Rune.IsValid(codePoint))
        {
            throw new CelSyntaxException(escapeStart, $"Syntax error: invalid code point {digits}");
        }

        text.Append(new Rune(codePoint).ToString());
        return position + length;
    }
}

/// <summary>
/// A recursive-descent parser for CEL's grammar, one method per precedence level (lowest first):
/// <c>?:</c>, <c>||</c>, <c>&amp;&amp;</c>, relations (<c>== != &lt; &lt;= &gt; &gt;= in</c>), <c>+ -</c>,
/// <c>* / %</c>, unary <c>! -</c>, member access (<c>.f</c>, <c>.f()</c>, <c>[i]</c>), primaries.
/// Macros (has, all, exists, exists_one, map, filter) are expanded here, as cel-go's parser does.
/// </summary>
internal sealed class CelParser
{
    private const int MaxDepth = 200;

    private static readonly HashSet<string> Relations = ["==", "!=", "<", "<=", ">", ">=", "in"];

    private readonly List<CelToken> tokens;
    private int next;
    private int depth;

    private CelParser(List<CelToken> tokens) => this.tokens = tokens;

    public static CelExpr Parse(string source)
    {
        var parser = new CelParser(CelLexer.Tokenize(source));
        var expression = parser.ParseExpression();
        var trailing = parser.Peek;
        if (trailing.Kind != CelTokenKind.End)
        {
            throw new CelSyntaxException(trailing.Position, $"Syntax error: extraneous input '{trailing.Text}'");
        }

        return expression;
    }

    private CelToken Peek => tokens[next];

    private CelToken Advance() => tokens[next++];

    private bool IsOperator(string text) => Peek.Kind == CelTokenKind.Operator && Peek.Text == text;

    private bool Accept(string text)
    {
        if (!IsOperator(text))
        {
            return false;
        }

        next++;
        return true;
    }

    private CelToken Expect(string text)
    {
        if (!IsOperator(text))
        {
            throw Unexpected($"expected '{text}'");
        }

        return Advance();
    }

    private CelSyntaxException Unexpected(string expectation)
    {
        var token = Peek;
        var found = token.Kind == CelTokenKind.End ? "<EOF>" : $"'{token.Text}'";
        return new CelSyntaxException(token.Position, $"Syntax error: mismatched input {found}, {expectation}");
    }

    private CelExpr ParseExpression()
    {
        if (++depth > MaxDepth)
        {
            throw new CelSyntaxException(Peek.Position, $"Syntax error: expression recursion limit exceeded: {MaxDepth}");
        }

        var condition = ParseOr();
        CelExpr result = condition;
        if (IsOperator("?"))
        {
            var question = Advance();
            var whenTrue = ParseOr();
            Expect(":");
            var whenFalse = ParseExpression();
            result = new CelConditional(question.Position, condition, whenTrue, whenFalse);
        }

        depth--;
        return result;
    }

    private CelExpr ParseOr()
    {
        var left = ParseAnd();
        while (IsOperator("||"))
        {
            var op = Advance();
            left = new CelLogical(op.Position, IsAnd: false, left, ParseAnd());
        }

        return left;
    }

    private CelExpr ParseAnd()
    {
        var left = ParseRelation();
        while (IsOperator("&&"))
        {
            var op = Advance();
            left = new CelLogical(op.Position, IsAnd: true, left, ParseRelation());
        }

        return left;
    }

    private CelExpr ParseRelation()
    {
        var left = ParseAddition();
        while (Peek.Kind == CelTokenKind.Operator && Relations.Contains(Peek.Text))
        {
            var op = Advance();
            left = new CelBinary(op.Position, op.Text, left, ParseAddition());
        }

        return left;
    }

    private CelExpr ParseAddition()
    {
        var left = ParseMultiplication();
        while (IsOperator("+") || IsOperator("-"))
        {
            var op = Advance();
            left = new CelBinary(op.Position, op.Text, left, ParseMultiplication());
        }

        return left;
    }

    private CelExpr ParseMultiplication()
    {
        var left = ParseUnary();
        while (IsOperator("*") || IsOperator("/") || IsOperator("%"))
        {
            var op = Advance();
            left = new CelBinary(op.Position, op.Text, left, ParseUnary());
        }

        return left;
    }

    private CelExpr ParseUnary()
    {
        if (IsOperator("!") || IsOperator("-"))
        {
            var op = Peek.Text;
            var positions = new List<int>();
            while (IsOperator(op))
            {
                positions.Add(Advance().Position);
            }

            var operand = ParseMember();
            if (op == "-" && operand is CelLiteral { Value: NegatableNumber number })
            {
                // A minus directly on a numeric literal is part of the literal, so the most negative int parses.
                operand = new CelLiteral(positions[^1], number.Negate(positions[^1]));
                positions.RemoveAt(positions.Count - 1);
            }

            for (var i = positions.Count - 1; i >= 0; i--)
            {
                operand = new CelUnary(positions[i], op, operand);
            }

            return Finish(operand);
        }

        return Finish(ParseMember());
    }

    /// <summary>Turns int literals still holding a raw magnitude into longs (now that no minus can claim them).</summary>
    private static CelExpr Finish(CelExpr expression) => expression switch
    {
        CelLiteral { Value: NegatableNumber number } literal => literal with { Value = number.AsPositive(literal.Position) },
        _ => expression,
    };

    private CelExpr ParseMember()
    {
        var operand = ParsePrimary();
        while (true)
        {
            if (IsOperator("."))
            {
                var dot = Advance();
                operand = Finish(operand);
                if (Peek.Kind != CelTokenKind.Ident)
                {
                    throw Unexpected("expected a field or method name");
                }

                var name = Advance();
                if (IsOperator("("))
                {
                    Advance();
                    var arguments = ParseArguments(")");
                    operand = MemberCall(dot.Position, name, operand, arguments);
                }
                else
                {
                    operand = new CelSelect(dot.Position, operand, name.Text);
                }
            }
            else if (IsOperator("["))
            {
                var bracket = Advance();
                var index = ParseExpression();
                Expect("]");
                operand = new CelIndex(bracket.Position, Finish(operand), Finish(index));
            }
            else
            {
                return operand;
            }
        }
    }

    private static CelExpr MemberCall(int position, CelToken name, CelExpr target, List<CelExpr> arguments)
    {
        var macro = name.Text switch
        {
            "all" => CelMacro.All,
            "exists" => CelMacro.Exists,
            "exists_one" => CelMacro.ExistsOne,
            "map" => CelMacro.Map,
            "filter" => CelMacro.Filter,
            _ => (CelMacro?)null,
        };
        var arity = macro == CelMacro.Map ? arguments.Count is 2 or 3 : arguments.Count == 2;
        if (macro is null || !arity)
        {
            return new CelCall(position, name.Text, target, arguments);
        }

        if (arguments[0] is not CelIdent variable)
        {
            throw new CelSyntaxException(arguments[0].Position, "argument must be a simple name");
        }

        return macro switch
        {
            CelMacro.Map when arguments.Count == 3
                => new CelComprehension(position, CelMacro.Map, target, variable.Name, arguments[1], arguments[2]),
            CelMacro.Map => new CelComprehension(position, CelMacro.Map, target, variable.Name, null, arguments[1]),
            _ => new CelComprehension(position, macro.Value, target, variable.Name, arguments[1], null),
        };
    }

    private List<CelExpr> ParseArguments(string closing)
    {
        var arguments = new List<CelExpr>();
        if (Accept(closing))
        {
            return arguments;
        }

        do
        {
            if (closing == "]" && IsOperator(closing))
            {
                break;
            }

            arguments.Add(Finish(ParseExpression()));
        }
        while (Accept(","));

        Expect(closing);
        return arguments;
    }

    private CelExpr ParsePrimary()
    {
        var token = Peek;
        switch (token.Kind)
        {
            case CelTokenKind.Int:
                Advance();
                return new CelLiteral(token.Position, new NegatableNumber((ulong)token.Value!, token.Text, IsDouble: false));
            case CelTokenKind.Uint:
                Advance();
                return new CelLiteral(token.Position, (ulong)token.Value!);
            case CelTokenKind.Double:
                Advance();
                return new CelLiteral(token.Position, new NegatableNumber(0, token.Text, IsDouble: true, (double)token.Value!));
            case CelTokenKind.String:
                Advance();
                return new CelLiteral(token.Position, (string)token.Value!);
            case CelTokenKind.Ident:
                return ParseIdentifier();
            case CelTokenKind.Operator when token.Text == "(":
            {
                Advance();
                var inner = ParseExpression();
                Expect(")");
                return Finish(inner);
            }

            case CelTokenKind.Operator when token.Text == "[":
                Advance();
                return new CelCreateList(token.Position, ParseArguments("]"));
            case CelTokenKind.Operator when token.Text == "{":
                Advance();
                return ParseMapEntries(token.Position);
            case CelTokenKind.Operator when token.Text == ".":
                Advance();
                if (Peek.Kind != CelTokenKind.Ident)
                {
                    throw Unexpected("expected an identifier");
                }

                return ParseIdentifier();
            default:
                throw Unexpected("expected an expression");
        }
    }

    private CelExpr ParseIdentifier()
    {
        var name = Advance();
        switch (name.Text)
        {
            case "true":
                return new CelLiteral(name.Position, true);
            case "false":
                return new CelLiteral(name.Position, false);
            case "null":
                return new CelLiteral(name.Position, null);
        }

        if (!Accept("("))
        {
            return new CelIdent(name.Position, name.Text);
        }

        var arguments = ParseArguments(")");
        if (name.Text == "has" && arguments.Count == 1)
        {
            return arguments[0] is CelSelect select
                ? new CelHas(name.Position, select.Operand, select.Field)
                : throw new CelSyntaxException(arguments[0].Position, "invalid argument to has() macro");
        }

        return new CelCall(name.Position, name.Text, null, arguments);
    }

    private CelCreateMap ParseMapEntries(int position)
    {
        var entries = new List<KeyValuePair<CelExpr, CelExpr>>();
        if (!IsOperator("}"))
        {
            do
            {
                if (IsOperator("}"))
                {
                    break;
                }

                var key = Finish(ParseExpression());
                Expect(":");
                entries.Add(new(key, Finish(ParseExpression())));
            }
            while (Accept(","));
        }

        Expect("}");
        return new CelCreateMap(position, entries);
    }

    /// <summary>A numeric literal before the parser knows whether a minus sign belongs to it.</summary>
    private sealed record NegatableNumber(ulong Magnitude, string Text, bool IsDouble, double DoubleValue = 0)
    {
        public object Negate(int position)
        {
            if (IsDouble)
            {
                return -DoubleValue;
            }

            return Magnitude <= (ulong)long.MaxValue + 1
                ? unchecked(-(long)Magnitude)
                : throw new CelSyntaxException(position, $"Syntax error: invalid int literal: -{Text}");
        }

        public object AsPositive(int position)
        {
            if (IsDouble)
            {
                return DoubleValue;
            }

            return Magnitude <= long.MaxValue
                ? (long)Magnitude
                : throw new CelSyntaxException(position, $"Syntax error: invalid int literal: {Text}");
        }
    }
}
