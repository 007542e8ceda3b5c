using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Nexus.Api.Validation;

/// <summary>
/// The OpenAPI keyword checks the API server runs through kube-openapi, in its order per node (type, string,
/// format, number, array, enum, object) and with its messages: "spec.x in body should be ..." as the detail of an
/// Invalid error, Required, Unsupported, Too long and Too many errors converted as apiextensions does.
/// </summary>
internal static partial class SchemaValidator
{
    public static void Validate(StructuralSchema schema, JsonNode? node, string path, List<FieldError> errors)
    {
        var kind = JsonData.KindOf(node);
        var typeMatches = CheckType(schema, node, kind, path, errors);
        if (kind == JsonKind.Null)
        {
            // kube-openapi checks a null against type (unless nullable) and enum only.
            CheckEnum(schema, node, path, errors);
            return;
        }

        if (!typeMatches)
        {
            return;
        }

        switch (kind)
        {
            case JsonKind.String:
                ValidateString(schema, JsonData.GetString(node!), path, errors);
                break;
            case JsonKind.Integer:
            case JsonKind.Number:
                ValidateNumber(schema, node!, path, errors);
                break;
            case JsonKind.Array:
                ValidateArray(schema, (JsonArray)node!, path, errors);
                break;
        }

        CheckEnum(schema, node, path, errors);
        if (kind == JsonKind.Object)
        {
            ValidateObject(schema, (JsonObject)node!, path, errors);
        }
    }

    private static void CheckEnum(StructuralSchema schema, JsonNode? node, string path, List<FieldError> errors)
    {
        if (schema.Enum is { } allowed && !allowed.Any(value => JsonData.DeepEquals(value, node)))
        {
            var supported = allowed.Select(value => JsonData.KindOf(value) == JsonKind.String
                ? JsonData.GetString(value!)
                : value?.ToJsonString() ?? "null");
            errors.Add(FieldErrors.NotSupported(path, GoSyntax.Value(node), supported));
        }
    }

    /// <summary>The type check: whether the value has the declared type (a null never has; it is an error unless
    /// nullable). Only a typed value goes on to the other keywords.</summary>
    private static bool CheckType(StructuralSchema schema, JsonNode? node, JsonKind kind, string path, List<FieldError> errors)
    {
        var expected = schema.IntOrString ? ["integer", "string"] : schema.Type is { } type ? new[] { type } : [];
        if (expected.Length == 0)
        {
            return true;
        }

        if (kind == JsonKind.Null)
        {
            if (!schema.Nullable)
            {
                errors.Add(TypeError(path, expected, "null"));
            }

            return false;
        }

        var actual = JsonData.TypeName(kind);
        var matches = expected.Contains(actual)
            || (kind == JsonKind.Integer && expected.Contains("number"))
            || (kind == JsonKind.Number && expected.Contains("integer") && JsonData.IsWhole(JsonData.GetDouble(node!)));
        if (!matches)
        {
            errors.Add(TypeError(path, expected, actual));
        }

        return matches;
    }

    private static FieldError TypeError(string path, IEnumerable<string> expected, string actual)
        => FieldErrors.TypeInvalid(path, GoSyntax.Quote(actual),
            $"{InBody(path)} must be of type {string.Join(",", expected)}: {GoSyntax.Quote(actual)}");

    private static void ValidateString(StructuralSchema schema, string value, string path, List<FieldError> errors)
    {
        var runes = schema.MaxLength is not null || schema.MinLength is not null ? value.EnumerateRunes().Count() : 0;
        if (schema.MaxLength is { } maxLength && runes > maxLength)
        {
            errors.Add(FieldErrors.TooLong(path, maxLength));
        }

        if (schema.MinLength is { } minLength && runes < minLength)
        {
            errors.Add(FieldErrors.Invalid(path, GoSyntax.Quote(value), $"{InBody(path)} should be at least {minLength} chars long"));
        }

        if (schema.PatternRegex is { } pattern && !Matches(pattern, value))
        {
            errors.Add(FieldErrors.Invalid(path, GoSyntax.Quote(value), $"{InBody(path)} should match '{schema.Pattern}'"));
        }

        if (schema.Format is "date-time" or "datetime" && !IsDateTime(value))
        {
            errors.Add(FieldErrors.TypeInvalid(path, GoSyntax.Quote(value),
                $"{InBody(path)} must be of type {schema.Format}: {GoSyntax.Quote(value)}"));
        }
    }

    private static bool Matches(Regex pattern, string value)
    {
        try
        {
            return pattern.IsMatch(value);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary>RFC 3339 date-times as strfmt accepts them (seconds and zone optional, 't' or space allowed).</summary>
    private static bool IsDateTime(string value)
    {
        var match = DateTimePattern().Match(value);
        if (!match.Success)
        {
            return false;
        }

        var date = match.Groups["date"].Value;
        var time = match.Groups["time"].Value;
        return DateTime.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
            && TimeSpan.TryParseExact(time.Length == 5 ? time + ":00" : time, @"hh\:mm\:ss", CultureInfo.InvariantCulture, out _);
    }

    [GeneratedRegex(@"^(?<date>\d{4}-\d{2}-\d{2})[Tt ](?<time>\d{2}:\d{2}(:\d{2})?)(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$", RegexOptions.CultureInvariant)]
    private static partial Regex DateTimePattern();

    private static void ValidateNumber(StructuralSchema schema, JsonNode node, string path, List<FieldError> errors)
    {
        var isInteger = JsonData.TryGetInteger(node, out var integer);
        var real = JsonData.GetDouble(node);
        var badValue = GoSyntax.Value(node);

        if (schema.MultipleOf is { } factor && factor > 0)
        {
            var multiple = isInteger && JsonData.IsWhole(factor) && factor >= 1
                ? integer % (long)factor == 0
                : JsonData.IsWhole(factor < 1 ? 1 / factor * real : real / factor);
            if (!multiple)
            {
                var limit = isInteger && JsonData.IsWhole(factor) ? ((long)factor).ToString(CultureInfo.InvariantCulture) : GoSyntax.Float(factor);
                errors.Add(FieldErrors.Invalid(path, badValue, $"{InBody(path)} should be a multiple of {limit}"));
            }
        }

        if (schema.Minimum is { } minimum)
        {
            var below = schema.ExclusiveMinimum ? real <= minimum : real < minimum;
            if (isInteger && JsonData.IsWhole(minimum))
            {
                below = schema.ExclusiveMinimum ? integer <= (long)minimum : integer < (long)minimum;
            }

            if (below)
            {
                var relation = schema.ExclusiveMinimum ? "greater than" : "greater than or equal to";
                errors.Add(FieldErrors.Invalid(path, badValue, $"{InBody(path)} should be {relation} {Limit(minimum, isInteger)}"));
            }
        }

        if (schema.Maximum is { } maximum)
        {
            var above = schema.ExclusiveMaximum ? real >= maximum : real > maximum;
            if (isInteger && JsonData.IsWhole(maximum))
            {
                above = schema.ExclusiveMaximum ? integer >= (long)maximum : integer > (long)maximum;
            }

            if (above)
            {
                var relation = schema.ExclusiveMaximum ? "less than" : "less than or equal to";
                errors.Add(FieldErrors.Invalid(path, badValue, $"{InBody(path)} should be {relation} {Limit(maximum, isInteger)}"));
            }
        }
    }

    /// <summary>A bound as kube-openapi prints it: an int64 for integer data, Go's %v of a float64 otherwise.</summary>
    private static string Limit(double bound, bool integerData)
        => integerData && JsonData.IsWhole(bound) ? ((long)bound).ToString(CultureInfo.InvariantCulture) : GoSyntax.Float(bound);

    private static void ValidateArray(StructuralSchema schema, JsonArray array, string path, List<FieldError> errors)
    {
        if (schema.Items is { } items)
        {
            for (var i = 0; i < array.Count; i++)
            {
                Validate(items, array[i], FieldPath.Index(path, i), errors);
            }
        }

        if (schema.MinItems is { } minItems && array.Count < minItems)
        {
            errors.Add(FieldErrors.Invalid(path, array.Count.ToString(CultureInfo.InvariantCulture),
                $"{InBody(path)} should have at least {minItems} items"));
        }

        if (schema.MaxItems is { } maxItems && array.Count > maxItems)
        {
            errors.Add(FieldErrors.TooMany(path, array.Count, maxItems));
        }
    }

    private static void ValidateObject(StructuralSchema schema, JsonObject obj, string path, List<FieldError> errors)
    {
        // kube-openapi stops at a property-count failure without looking inside the object.
        if (schema.MinProperties is { } minProperties && obj.Count < minProperties)
        {
            errors.Add(FieldErrors.Invalid(path, obj.Count.ToString(CultureInfo.InvariantCulture),
                $"{InBody(path)} should have at least {minProperties} properties"));
            return;
        }

        if (schema.MaxProperties is { } maxProperties && obj.Count > maxProperties)
        {
            errors.Add(FieldErrors.TooMany(path, obj.Count, maxProperties));
            return;
        }

        if (schema.AdditionalProperties is { } values)
        {
            foreach (var (key, value) in obj)
            {
                if (!schema.PropertiesByName.ContainsKey(key))
                {
                    Validate(values, value, FieldPath.Key(path, key), errors);
                }
            }
        }

        foreach (var (name, property) in schema.Properties)
        {
            if (obj.TryGetPropertyValue(name, out var value))
            {
                Validate(property, value, FieldPath.Child(path, name), errors);
            }
        }

        foreach (var name in schema.Required)
        {
            if (!obj.ContainsKey(name))
            {
                errors.Add(FieldErrors.Required(FieldPath.Child(path, name)));
            }
        }
    }

    private static string InBody(string path) => $"{(path.Length == 0 ? "." : path)} in body";
}
