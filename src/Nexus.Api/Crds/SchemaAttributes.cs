namespace Nexus.Api.Crds;

// The OpenAPI keywords the CRD generator reads from the API types. Descriptions come from
// System.ComponentModel.DescriptionAttribute; types, enums, formats and list item schemas from the C# types themselves.

/// <summary>The field must be present (OpenAPI <c>required</c> on the enclosing object).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RequiredAttribute : Attribute;

/// <summary>
/// The field has a server-side default: the value a new instance of the enclosing type holds (its property
/// initializer), so the schema and the C# types cannot disagree. Object-typed fields default to <c>{}</c>, which lets
/// the API server fill in their own defaults when the user leaves the whole object out.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DefaultAttribute : Attribute;

/// <summary>Lower bound of a number (OpenAPI <c>minimum</c>, or <c>exclusiveMinimum</c> when <see cref="Exclusive"/>).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MinimumAttribute(double value) : Attribute
{
    public double Value { get; } = value;
    public bool Exclusive { get; init; }
}

/// <summary>Upper bound of a number (OpenAPI <c>maximum</c>, or <c>exclusiveMaximum</c> when <see cref="Exclusive"/>).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MaximumAttribute(double value) : Attribute
{
    public double Value { get; } = value;
    public bool Exclusive { get; init; }
}

/// <summary>Shortest string, in characters (each item or value of a list or map of strings).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MinLengthAttribute(int value) : Attribute
{
    public int Value { get; } = value;
}

/// <summary>
/// Longest string, in characters. On a list or map of strings it bounds each item or value. Every free-form string
/// needs one so that the API server can bound the cost of CEL rules over it.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MaxLengthAttribute(int value) : Attribute
{
    public int Value { get; } = value;
}

/// <summary>
/// ECMA-262 regular expression a string must match. On a list or map of strings it applies to each item or value; on
/// an int-or-string field, to its string form only.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PatternAttribute(string value) : Attribute
{
    public string Value { get; } = value;
}

/// <summary>Fewest items in a list.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MinItemsAttribute(int value) : Attribute
{
    public int Value { get; } = value;
}

/// <summary>Most items in a list; required on every list so that CEL cost stays bounded.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MaxItemsAttribute(int value) : Attribute
{
    public int Value { get; } = value;
}

/// <summary>Most entries in a map; required on every map so that CEL cost stays bounded.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MaxPropertiesAttribute(int value) : Attribute
{
    public int Value { get; } = value;
}

/// <summary>
/// <c>x-kubernetes-list-type: map</c>: items are objects identified by <paramref name="keys"/>, so server-side apply
/// merges them item by item. Lists without a list-type attribute are <c>atomic</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ListMapAttribute(params string[] keys) : Attribute
{
    public IReadOnlyList<string> Keys { get; } = keys;
}

/// <summary><c>x-kubernetes-list-type: set</c>: items are unique scalars and their order carries no meaning.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ListSetAttribute : Attribute;

/// <summary>
/// A CEL validation rule (<c>x-kubernetes-validations</c>) on the type's or the property's schema node. Rules that
/// use <c>oldSelf</c> are transition rules: the API server checks them on updates only.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Property, AllowMultiple = true)]
public sealed class CelRuleAttribute(string rule, string message) : Attribute
{
    public string Rule { get; } = rule;
    public string Message { get; } = message;

    /// <summary>The field a failure is reported on, relative to the node the rule sits on (e.g. <c>.weights</c>).</summary>
    public string? FieldPath { get; init; }
}

/// <summary>Abbreviations <c>kubectl get</c> accepts for the kind.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class ShortNamesAttribute(params string[] names) : Attribute
{
    public IReadOnlyList<string> Names { get; } = names;
}

/// <summary>A column of <c>kubectl get</c>, in declaration order.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class PrinterColumnAttribute(string name, string type, string jsonPath) : Attribute
{
    public string Name { get; } = name;

    /// <summary>OpenAPI type of the value: string, integer, number, boolean or date.</summary>
    public string Type { get; } = type;

    public string JsonPath { get; } = jsonPath;
    public string? Description { get; init; }

    /// <summary>0 shows the column always; higher values only with <c>-o wide</c>.</summary>
    public int Priority { get; init; }
}
