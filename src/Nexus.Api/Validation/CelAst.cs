namespace Nexus.Api.Validation;

/// <summary>A node of a parsed CEL expression; <see cref="Position"/> is its offset in the source, for messages.</summary>
internal abstract record CelExpr(int Position);

internal sealed record CelLiteral(int Position, object? Value) : CelExpr(Position);

internal sealed record CelIdent(int Position, string Name) : CelExpr(Position);

/// <summary><c>operand.field</c>; an absent key is a "no such key" error.</summary>
internal sealed record CelSelect(int Position, CelExpr Operand, string Field) : CelExpr(Position);

/// <summary>The <c>has(operand.field)</c> macro: presence, never an error for an absent field.</summary>
internal sealed record CelHas(int Position, CelExpr Operand, string Field) : CelExpr(Position);

internal sealed record CelIndex(int Position, CelExpr Operand, CelExpr Index) : CelExpr(Position);

/// <summary><c>!x</c> or <c>-x</c>.</summary>
internal sealed record CelUnary(int Position, string Operator, CelExpr Operand) : CelExpr(Position);

/// <summary>Arithmetic, comparison and <c>in</c>.</summary>
internal sealed record CelBinary(int Position, string Operator, CelExpr Left, CelExpr Right) : CelExpr(Position);

/// <summary><c>&amp;&amp;</c> and <c>||</c>, which absorb an error on one side when the other decides.</summary>
internal sealed record CelLogical(int Position, bool IsAnd, CelExpr Left, CelExpr Right) : CelExpr(Position);

internal sealed record CelConditional(int Position, CelExpr Condition, CelExpr WhenTrue, CelExpr WhenFalse)
    : CelExpr(Position);

/// <summary>A function <c>f(args)</c> (Target null) or a method <c>target.f(args)</c>.</summary>
internal sealed record CelCall(int Position, string Function, CelExpr? Target, IReadOnlyList<CelExpr> Arguments)
    : CelExpr(Position);

internal sealed record CelCreateList(int Position, IReadOnlyList<CelExpr> Elements) : CelExpr(Position);

internal sealed record CelCreateMap(int Position, IReadOnlyList<KeyValuePair<CelExpr, CelExpr>> Entries)
    : CelExpr(Position);

internal enum CelMacro
{
    All,
    Exists,
    ExistsOne,
    Map,
    Filter,
}

/// <summary>
/// A list macro over <see cref="Range"/> binding <see cref="Variable"/>: the predicate of all/exists/exists_one/filter,
/// or for map the optional filter in <see cref="Predicate"/> and the element in <see cref="Transform"/>.
/// </summary>
internal sealed record CelComprehension(
    int Position, CelMacro Macro, CelExpr Range, string Variable, CelExpr? Predicate, CelExpr? Transform)
    : CelExpr(Position);
