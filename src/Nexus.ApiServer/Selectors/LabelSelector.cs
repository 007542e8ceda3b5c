using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Nexus.ApiServer.Selectors;

/// <summary>A parsed <c>labelSelector</c> query parameter with k8s.io/apimachinery/pkg/labels semantics:
/// <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k in (a,b)</c>, <c>k notin (a,b)</c>, <c>k</c>, <c>!k</c>, <c>k&gt;1</c>,
/// <c>k&lt;1</c>, joined by commas (all must hold). <c>!=</c> and <c>notin</c> match objects without the label.</summary>
internal sealed partial class LabelSelector
{
    public static readonly LabelSelector Everything = new([]);

    private readonly IReadOnlyList<Requirement> requirements;

    private LabelSelector(IReadOnlyList<Requirement> requirements) => this.requirements = requirements;

    public bool IsEverything => requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels) => requirements.All(r => r.Matches(labels));

    /// <summary>Parses a selector; throws <see cref="FormatException"/> with the API server's wording on bad input.</summary>
    public static LabelSelector Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }

        var tokens = Tokenize(text);
        var parser = new Parser(tokens);
        var requirements = new List<Requirement>();
        while (true)
        {
            requirements.Add(parser.ParseRequirement());
            var next = parser.Next();
            if (next.Kind == TokenKind.End)
            {
                break;
            }

            if (next.Kind != TokenKind.Comma)
            {
                throw new FormatException($"found '{next.Text}', expected: ',' or 'end of string'");
            }
        }

        return new LabelSelector(requirements);
    }

    private enum Operator
    {
        Equals,
        NotEquals,
        In,
        NotIn,
        Exists,
        DoesNotExist,
        GreaterThan,
        LessThan,
    }

    private sealed record Requirement(string Key, Operator Op, IReadOnlyList<string> Values)
    {
        public bool Matches(IReadOnlyDictionary<string, string> labels)
        {
            var has = labels.TryGetValue(Key, out var value);
            return Op switch
            {
                Operator.Equals or Operator.In => has && Values.Contains(value!, StringComparer.Ordinal),
                Operator.NotEquals or Operator.NotIn => !has || !Values.Contains(value!, StringComparer.Ordinal),
                Operator.Exists => has,
                Operator.DoesNotExist => !has,
                Operator.GreaterThan => has && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var g) && g > long.Parse(Values[0], CultureInfo.InvariantCulture),
                Operator.LessThan => has && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) && l < long.Parse(Values[0], CultureInfo.InvariantCulture),
                _ => false,
            };
        }
    }

    private enum TokenKind
    {
        End,
        Identifier,
        In,
        NotIn,
        Comma,
        OpenParen,
        CloseParen,
        Equals,
        DoubleEquals,
        NotEquals,
        Bang,
        Greater,
        Less,
    }

    private readonly record struct Token(TokenKind Kind, string Text);

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            switch (c)
            {
                case ',': tokens.Add(new(TokenKind.Comma, ",")); i++; continue;
                case '(': tokens.Add(new(TokenKind.OpenParen, "(")); i++; continue;
                case ')': tokens.Add(new(TokenKind.CloseParen, ")")); i++; continue;
                case '>': tokens.Add(new(TokenKind.Greater, ">")); i++; continue;
                case '<': tokens.Add(new(TokenKind.Less, "<")); i++; continue;
                case '=' when i + 1 < text.Length && text[i + 1] == '=': tokens.Add(new(TokenKind.DoubleEquals, "==")); i += 2; continue;
                case '=': tokens.Add(new(TokenKind.Equals, "=")); i++; continue;
                case '!' when i + 1 < text.Length && text[i + 1] == '=': tokens.Add(new(TokenKind.NotEquals, "!=")); i += 2; continue;
                case '!': tokens.Add(new(TokenKind.Bang, "!")); i++; continue;
            }

            var start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i]) && ",()<>=!".IndexOf(text[i], StringComparison.Ordinal) < 0)
            {
                i++;
            }

            var word = text[start..i];
            tokens.Add(word switch
            {
                "in" => new(TokenKind.In, word),
                "notin" => new(TokenKind.NotIn, word),
                _ => new(TokenKind.Identifier, word),
            });
        }

        tokens.Add(new(TokenKind.End, string.Empty));
        return tokens;
    }

    private sealed class Parser(List<Token> tokens)
    {
        private int position;

        public Token Next() => tokens[position++];

        private Token Peek() => tokens[position];

        public Requirement ParseRequirement()
        {
            var first = Next();
            if (first.Kind == TokenKind.Bang)
            {
                var negated = Next();
                if (negated.Kind != TokenKind.Identifier)
                {
                    throw new FormatException($"found '{negated.Text}', expected: identifier after '!'");
                }

                return new Requirement(ValidKey(negated.Text), Operator.DoesNotExist, []);
            }

            if (first.Kind != TokenKind.Identifier)
            {
                throw new FormatException($"found '{first.Text}', expected: !, identifier, or 'end of string'");
            }

            var key = ValidKey(first.Text);
            var op = Peek();
            switch (op.Kind)
            {
                case TokenKind.End or TokenKind.Comma:
                    return new Requirement(key, Operator.Exists, []);
                case TokenKind.Equals or TokenKind.DoubleEquals or TokenKind.NotEquals:
                    position++;
                    return new Requirement(key, op.Kind == TokenKind.NotEquals ? Operator.NotEquals : Operator.Equals, [SingleValue()]);
                case TokenKind.Greater or TokenKind.Less:
                    position++;
                    var bound = SingleValue();
                    if (!long.TryParse(bound, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                    {
                        throw new FormatException($"for 'Gt', 'Lt' operators, the value must be an integer: {bound}");
                    }

                    return new Requirement(key, op.Kind == TokenKind.Greater ? Operator.GreaterThan : Operator.LessThan, [bound]);
                case TokenKind.In or TokenKind.NotIn:
                    position++;
                    return new Requirement(key, op.Kind == TokenKind.In ? Operator.In : Operator.NotIn, ValueSet());
                default:
                    throw new FormatException($"found '{op.Text}', expected: in, notin, =, ==, !=, gt, lt");
            }
        }

        private string SingleValue()
        {
            var token = Peek();
            if (token.Kind is TokenKind.End or TokenKind.Comma)
            {
                return string.Empty;
            }

            position++;
            if (token.Kind is not (TokenKind.Identifier or TokenKind.In or TokenKind.NotIn))
            {
                throw new FormatException($"found '{token.Text}', expected: identifier");
            }

            return ValidValue(token.Text);
        }

        private List<string> ValueSet()
        {
            if (Next().Kind != TokenKind.OpenParen)
            {
                throw new FormatException("found '" + tokens[position - 1].Text + "', expected: '('");
            }

            var values = new List<string>();
            while (true)
            {
                var token = Next();
                switch (token.Kind)
                {
                    case TokenKind.Identifier or TokenKind.In or TokenKind.NotIn:
                        values.Add(ValidValue(token.Text));
                        var separator = Next();
                        if (separator.Kind == TokenKind.CloseParen)
                        {
                            return values;
                        }

                        if (separator.Kind != TokenKind.Comma)
                        {
                            throw new FormatException($"found '{separator.Text}', expected: ',' or ')'");
                        }

                        break;
                    case TokenKind.Comma:
                        values.Add(string.Empty);
                        break;
                    case TokenKind.CloseParen:
                        values.Add(string.Empty);
                        return values;
                    default:
                        throw new FormatException($"found '{token.Text}', expected: ',', ')' or identifier");
                }
            }
        }
    }

    private static string ValidKey(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var prefix = slash >= 0 ? key[..slash] : null;
        var name = slash >= 0 ? key[(slash + 1)..] : key;
        if (prefix is not null && (prefix.Length == 0 || prefix.Length > 253 || !DnsSubdomain().IsMatch(prefix)))
        {
            throw new FormatException($"invalid label key \"{key}\": prefix part must be a DNS subdomain");
        }

        if (name.Length == 0 || name.Length > 63 || !QualifiedName().IsMatch(name))
        {
            throw new FormatException(
                $"invalid label key \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
        }

        return key;
    }

    private static string ValidValue(string value)
    {
        if (value.Length > 63 || (value.Length > 0 && !QualifiedName().IsMatch(value)))
        {
            var builder = new StringBuilder();
            builder.Append(CultureInfo.InvariantCulture, $"invalid label value: \"{value}\": ");
            builder.Append("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
            throw new FormatException(builder.ToString());
        }

        return value;
    }

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex QualifiedName();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();
}
