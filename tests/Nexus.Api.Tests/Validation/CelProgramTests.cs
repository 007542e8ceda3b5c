using System.Text.Json.Nodes;
using Nexus.Api.Validation;

namespace Nexus.Api.Tests.Validation;

/// <summary>The CEL interpreter's semantics, checked against what cel-go evaluates for the same expressions.</summary>
public class CelProgramTests
{
    private static object? Evaluate(string expression, object? self = null, object? oldSelf = null)
    {
        var variables = new Dictionary<string, object?> { ["self"] = self };
        if (oldSelf is not null)
        {
            variables["oldSelf"] = oldSelf;
        }

        return CelProgram.Compile(expression).Evaluate(variables);
    }

    [Theory]
    [InlineData("1 + 2 * 3", 7L)]
    [InlineData("(1 + 2) * 3", 9L)]
    [InlineData("10 - 4 - 3", 3L)]
    [InlineData("7 / 2", 3L)]
    [InlineData("-7 / 2", -3L)]
    [InlineData("-7 % 3", -1L)]
    [InlineData("--3", 3L)]
    [InlineData("-9223372036854775808", long.MinValue)]
    [InlineData("0x1F", 31L)]
    [InlineData("1u + 2u", 3UL)]
    [InlineData("1.5 * 2.0", 3.0)]
    [InlineData("1e3", 1000.0)]
    [InlineData(".5 + 1.0", 1.5)]
    [InlineData("2 < 3 == true", true)]
    [InlineData("1 + 1 == 2 && 3 > 2 || false", true)]
    [InlineData("!true || true", true)]
    [InlineData("!false && false", false)]
    [InlineData("false ? 1 : true ? 2 : 3", 2L)]
    [InlineData("1 < 2 ? 'yes' : 'no'", "yes")]
    public void PrecedenceAssociativityAndLiteralsFollowCel(string expression, object expected)
        => Assert.Equal(expected, Evaluate(expression));

    [Theory]
    [InlineData("'a' + \"b\"", "ab")]
    [InlineData("'tab\\there'", "tab\there")]
    [InlineData("'\\u00e9\\x41\\101'", "éAA")]
    [InlineData("r'\\d+'", "\\d+")]
    [InlineData("'''two\nlines'''", "two\nlines")]
    [InlineData("\"it's\"", "it's")]
    [InlineData("'x' // a comment", "x")]
    public void StringLiteralsHandleQuotesEscapesAndRawStrings(string expression, string expected)
        => Assert.Equal(expected, Evaluate(expression));

    [Theory]
    [InlineData("1 == 1.0", true)]
    [InlineData("1 < 1.5", true)]
    [InlineData("2u > 1", true)]
    [InlineData("-1 < 0u", true)]
    [InlineData("9007199254740993 > 9007199254740992.0", true)]
    [InlineData("1 == 'a'", false)]
    [InlineData("null == null", true)]
    [InlineData("[1, [2]] == [1, [2.0]]", true)]
    [InlineData("[1, 2] == [2, 1]", false)]
    [InlineData("{'a': 1, 'b': 2} == {'b': 2, 'a': 1}", true)]
    [InlineData("{'a': [1]} != {'a': [2]}", true)]
    [InlineData("'abc' < 'abd'", true)]
    [InlineData("'Z' < 'a'", true)]
    [InlineData("false < true", true)]
    [InlineData("2 in [1, 2, 3]", true)]
    [InlineData("2.0 in [1, 2, 3]", true)]
    [InlineData("'a' in {'a': 1}", true)]
    [InlineData("'b' in {'a': 1}", false)]
    public void ComparisonsMixNumericTypesAndCompareListsAndMapsDeeply(string expression, bool expected)
        => Assert.Equal(expected, Evaluate(expression));

    [Theory]
    [InlineData("size('héllo')", 5L)]
    [InlineData("'héllo'.size()", 5L)]
    [InlineData("size([1, 2, 3])", 3L)]
    [InlineData("{'a': 1}.size()", 1L)]
    [InlineData("{'a': 1}['a']", 1L)]
    [InlineData("{'a': 1}.a", 1L)]
    [InlineData("[10, 20][1]", 20L)]
    [InlineData("int('42') + 1", 43L)]
    [InlineData("int(2.9)", 2L)]
    [InlineData("int(-2.9)", -2L)]
    [InlineData("int(7u)", 7L)]
    [InlineData("uint(3)", 3UL)]
    [InlineData("double(3) / 2.0", 1.5)]
    [InlineData("double('2.5')", 2.5)]
    [InlineData("string(1.5)", "1.5")]
    [InlineData("string(1000000.0)", "1e+06")]
    [InlineData("string(42) + string(7u)", "427")]
    [InlineData("string(true)", "true")]
    [InlineData("bool('true')", true)]
    [InlineData("dyn(1) + 1", 2L)]
    [InlineData("'nexus-router'.startsWith('nexus')", true)]
    [InlineData("'nexus-router'.endsWith('router')", true)]
    [InlineData("'nexus-router'.contains('s-r')", true)]
    [InlineData("'abc123'.matches('^[a-z]+[0-9]+$')", true)]
    [InlineData("matches('abc', 'b')", true)]
    [InlineData("'ABC'.matches('^[a-z]+$')", false)]
    [InlineData("'Nexus-1'.lowerAscii()", "nexus-1")]
    [InlineData("'a,b,c'.split(',').size()", 3L)]
    [InlineData("['a', 'b'].join('-')", "a-b")]
    [InlineData("'  x '.trim()", "x")]
    [InlineData("'héllo'.indexOf('l')", 2L)]
    [InlineData("'ab' + 'cd' == 'abcd'", true)]
    [InlineData("([1, 2] + [3]) == [1, 2, 3]", true)]
    public void FunctionsConversionsAndIndexing(string expression, object expected)
        => Assert.Equal(expected, Evaluate(expression));

    [Theory]
    [InlineData("[1, 2, 3].all(x, x > 0)", true)]
    [InlineData("[1, 2, 3].all(x, x > 1)", false)]
    [InlineData("[].all(x, x > 1)", true)]
    [InlineData("[1, 2, 3].exists(x, x > 2)", true)]
    [InlineData("[].exists(x, true)", false)]
    [InlineData("[1, 2, 3].exists_one(x, x > 2)", true)]
    [InlineData("[1, 2, 3].exists_one(x, x > 1)", false)]
    [InlineData("[1, 2, 3].map(x, x * 2) == [2, 4, 6]", true)]
    [InlineData("[1, 2, 3].filter(x, x % 2 == 1) == [1, 3]", true)]
    [InlineData("[1, 2, 3].map(x, x > 1, x * 10) == [20, 30]", true)]
    [InlineData("{'a': 1, 'b': 2}.all(k, k in ['a', 'b'])", true)]
    [InlineData("{'a': 1, 'b': 2}.filter(k, k != 'a') == ['b']", true)]
    [InlineData("[[1, 2], [3]].all(l, l.all(x, x > 0))", true)]
    [InlineData("[1, 2].exists(x, [3, 4].exists(y, x + y == 6))", true)]
    [InlineData("[1].all(self, self == 1) && self == 5", true)]
    public void ListMacrosIterateListsAndMapKeys(string expression, bool expected)
        => Assert.Equal(expected, Evaluate(expression, self: 5));

    [Theory]
    [InlineData("false && 1 / 0 == 1", false)]
    [InlineData("1 / 0 == 1 && false", false)]
    [InlineData("true || {}.a", true)]
    [InlineData("{}.a || true", true)]
    [InlineData("[0, 1].exists(x, 1 / x == 1)", true)]
    [InlineData("[0, 1].all(x, 1 / x > 5)", false)]
    [InlineData("false ? 1 / 0 : 2", 2L)]
    public void LogicalOperatorsAbsorbAnErrorWhenTheOtherSideDecides(string expression, object expected)
        => Assert.Equal(expected, Evaluate(expression));

    [Theory]
    [InlineData("true && 1 / 0 == 1", "division by zero")]
    [InlineData("{}.a || false", "no such key: a")]
    [InlineData("[0, 1].all(x, 1 / x > 0)", "division by zero")]
    [InlineData("[0, 1].exists_one(x, 1 / x == 1)", "division by zero")]
    [InlineData("[1, 0].map(x, 2 / x)", "division by zero")]
    [InlineData("9223372036854775807 + 1", "integer overflow")]
    [InlineData("-9223372036854775808 - 1", "integer overflow")]
    [InlineData("4611686018427387904 * 2", "integer overflow")]
    [InlineData("-(-9223372036854775808)", "integer overflow")]
    [InlineData("0u - 1u", "unsigned integer overflow")]
    [InlineData("5 % 0", "modulus by zero")]
    [InlineData("[1][3]", "index '3' out of range in list size '1'")]
    [InlineData("{'a': 1}['b']", "no such key: b")]
    [InlineData("1 + 1.0", "no such overload: _+_(int, double)")]
    [InlineData("'a' < 1", "no such overload: _<_(string, int)")]
    [InlineData("1 && true", "no such overload: _&&_(int, bool)")]
    [InlineData("int('x')", "type conversion error from 'string' to 'int'")]
    [InlineData("int(1e19)", "integer overflow")]
    [InlineData("{'a': 1, 'a': 2}", "Failed with repeated key: a")]
    [InlineData("oldSelf == 1", "no such attribute(s): oldSelf")]
    public void EvaluationErrorsCarryCelGosMessages(string expression, string message)
    {
        var error = Assert.Throws<CelEvaluationException>(() => Evaluate(expression));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void SelectingAnAbsentFieldIsAnErrorButHasReportsAbsence()
    {
        var self = JsonNode.Parse("""{"a": {"b": 1}, "list": [1, 2]}""");

        Assert.Equal(true, Evaluate("has(self.a)", self));
        Assert.Equal(true, Evaluate("has(self.a.b)", self));
        Assert.Equal(false, Evaluate("has(self.c)", self));
        Assert.Equal(1L, Evaluate("self.a.b", self));
        Assert.Equal(2L, Evaluate("self.list.size()", self));
        Assert.Equal("no such key: c", Assert.Throws<CelEvaluationException>(() => Evaluate("self.c", self)).Message);
        Assert.Equal("no such key: c", Assert.Throws<CelEvaluationException>(() => Evaluate("has(self.c.d)", self)).Message);
        Assert.Equal(false, Evaluate("has(self.c) && self.c > 1", self));
    }

    [Fact]
    public void ResultsComeBackAsDotNetValues()
    {
        var list = Assert.IsAssignableFrom<IReadOnlyList<object?>>(Evaluate("[1, 'a', 2.5, null, [true]]"));
        Assert.Equal(new object?[] { 1L, "a", 2.5, null }, list.Take(4));
        Assert.Equal(new object?[] { true }, Assert.IsAssignableFrom<IReadOnlyList<object?>>(list[4]));

        var map = Assert.IsAssignableFrom<IReadOnlyDictionary<object, object?>>(Evaluate("{'k': self.size()}", "four"));
        Assert.Equal(4L, map["k"]);

        var fromDictionary = Evaluate("self.replicas * 2", new Dictionary<string, object?> { ["replicas"] = 3 });
        Assert.Equal(6L, fromDictionary);
    }

    [Theory]
    [InlineData("self == oldSelf", true)]
    [InlineData("has(oldSelf.x) || self > 0", true)]
    [InlineData("self > 0", false)]
    [InlineData("[1].all(oldSelf, oldSelf > 0)", false)]
    public void OldSelfReferencesMakeATransitionRule(string rule, bool transition)
        => Assert.Equal(transition, CelProgram.Compile(rule).ReferencesOldSelf);

    [Theory]
    [InlineData("self.a &&", "ERROR: <input>:1:10: Syntax error: mismatched input <EOF>, expected an expression\n | self.a &&\n | .........^")]
    [InlineData("self.a == (1", "ERROR: <input>:1:13: Syntax error: mismatched input <EOF>, expected ')'\n | self.a == (1\n | ............^")]
    [InlineData("foo > 1", "ERROR: <input>:1:1: undeclared reference to 'foo' (in container '')\n | foo > 1\n | ^")]
    [InlineData("self.frobnicate()", "undeclared reference to 'frobnicate'")]
    [InlineData("size(1, 2)", "found no matching overload for 'size' applied to 2 argument(s)")]
    [InlineData("self.all(1, true)", "argument must be a simple name")]
    [InlineData("has(self)", "invalid argument to has() macro")]
    [InlineData("self.matches('[')", "invalid matches argument")]
    [InlineData("'unterminated", "Syntax error: unterminated string literal")]
    [InlineData("self.if", "Syntax error: reserved identifier: if")]
    [InlineData("9223372036854775808", "Syntax error: invalid int literal: 9223372036854775808")]
    [InlineData("self ^ 2", "Syntax error: token recognition error at: '^'")]
    public void CompileErrorsLocateTheProblemAndQuoteTheRule(string rule, string expected)
    {
        var error = Assert.Throws<CelCompileException>(() => CelProgram.Compile(rule));

        Assert.StartsWith("compilation failed: ERROR: <input>:", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.Contains($"\n | {rule.Split('\n')[0]}\n", error.Message);
        Assert.Equal(rule, error.Expression);
    }

    [Fact]
    public void CompileWithOtherVariablesDeclaresOnlyThose()
    {
        var program = CelProgram.Compile("object.spec.replicas > 0", ["object"]);

        Assert.Equal(true, program.Evaluate(new Dictionary<string, object?> { ["object"] = JsonNode.Parse("""{"spec": {"replicas": 2}}""") }));
        Assert.Contains("undeclared reference to 'self'", Assert.Throws<CelCompileException>(() => CelProgram.Compile("self", ["object"])).Message);
    }
}
