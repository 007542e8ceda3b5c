namespace Nexus.Api.Validation;

/// <summary>The error types of k8s.io/apimachinery's field.ErrorType, spelled as the API server prints them.</summary>
public static class FieldErrorType
{
    public const string Required = "Required value";
    public const string Invalid = "Invalid value";
    public const string NotSupported = "Unsupported value";
    public const string TooMany = "Too many";
    public const string TooLong = "Too long";
    public const string Forbidden = "Forbidden";
    public const string Duplicate = "Duplicate value";
}

/// <summary>
/// One validation failure, shaped like the API server's field.Error so that a test API server can return it as a
/// StatusCause and a user reads the same text kubectl prints.
/// </summary>
/// <param name="Field">The field path (<c>spec.router.topK</c>, <c>spec.tolerations[0].key</c>); <c>&lt;nil&gt;</c> for the
/// object as a whole, as the API server writes it.</param>
/// <param name="Type">One of <see cref="FieldErrorType"/>.</param>
/// <param name="Detail">The explanation after the value, empty where the type says it all.</param>
public sealed record FieldError(string Field, string Type, string Detail)
{
    /// <summary>The path the API server prints for an error about the whole object.</summary>
    public const string RootField = "<nil>";

    private readonly string? reason;

    /// <summary>The offending value in Go syntax as the API server prints it (<c>9</c>, <c>"foo"</c>, <c>"object"</c>);
    /// null where the error type omits it.</summary>
    public string? BadValue { get; init; }

    /// <summary>The StatusCause type (<c>FieldValueInvalid</c>, <c>FieldValueRequired</c>, ...).</summary>
    public string Reason
    {
        get => reason ?? ReasonFor(Type);
        init => reason = value;
    }

    /// <summary>The message without the field, as a StatusCause carries it: <c>Invalid value: 9: ... </c>.</summary>
    public string Body
    {
        get
        {
            var omitsValue = Type is FieldErrorType.Required or FieldErrorType.Forbidden or FieldErrorType.TooLong
                || BadValue is null;
            var head = omitsValue ? Type : $"{Type}: {BadValue}";
            return Detail.Length == 0 ? head : $"{head}: {Detail}";
        }
    }

    /// <summary>Field and body, exactly as in the API server's 422 message.</summary>
    public override string ToString() => $"{Field}: {Body}";

    /// <summary>
    /// The errors joined as the API server aggregates them in a Status message: one error alone, several in brackets
    /// separated by commas, identical messages once.
    /// </summary>
    public static string Aggregate(IEnumerable<FieldError> errors)
    {
        var messages = errors.Select(error => error.ToString()).Distinct(StringComparer.Ordinal).ToList();
        return messages.Count == 1 ? messages[0] : $"[{string.Join(", ", messages)}]";
    }

    /// <summary>The message of the API server's 422 Invalid status: <c>NexusModel.nexus.moe "m" is invalid: ...</c>.</summary>
    /// <param name="qualifiedKind">Kind and group, <c>NexusModel.nexus.moe</c>.</param>
    public static string InvalidMessage(string qualifiedKind, string name, IEnumerable<FieldError> errors)
        => $"{qualifiedKind} {GoSyntax.Quote(name)} is invalid: {Aggregate(errors)}";

    private static string ReasonFor(string type) => type switch
    {
        FieldErrorType.Required => "FieldValueRequired",
        FieldErrorType.NotSupported => "FieldValueNotSupported",
        FieldErrorType.TooMany => "FieldValueTooMany",
        FieldErrorType.TooLong => "FieldValueTooLong",
        FieldErrorType.Forbidden => "FieldValueForbidden",
        FieldErrorType.Duplicate => "FieldValueDuplicate",
        _ => "FieldValueInvalid",
    };
}

/// <summary>The constructors of apimachinery's field package, with the same wording.</summary>
internal static class FieldErrors
{
    /// <summary>The cause type of a value of the wrong JSON type; it also stops CEL rules from running.</summary>
    public const string TypeInvalidReason = "FieldValueTypeInvalid";

    public static FieldError Required(string path, string detail = "")
        => new(Render(path), FieldErrorType.Required, detail);

    public static FieldError Invalid(string path, string badValue, string detail)
        => new(Render(path), FieldErrorType.Invalid, detail) { BadValue = badValue };

    public static FieldError TypeInvalid(string path, string badValue, string detail)
        => Invalid(path, badValue, detail) with { Reason = TypeInvalidReason };

    public static FieldError NotSupported(string path, string badValue, IEnumerable<string> supported)
    {
        var quoted = supported.Select(GoSyntax.Quote).ToList();
        var detail = quoted.Count == 0 ? "" : "supported values: " + string.Join(", ", quoted);
        return new(Render(path), FieldErrorType.NotSupported, detail) { BadValue = badValue };
    }

    public static FieldError TooLong(string path, long maxLength)
        => new(Render(path), FieldErrorType.TooLong, $"may not be more than {maxLength} {(maxLength == 1 ? "byte" : "bytes")}");

    public static FieldError TooMany(string path, long actual, long max)
        => new(Render(path), FieldErrorType.TooMany, $"must have at most {max} {(max == 1 ? "item" : "items")}")
        {
            BadValue = actual.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

    public static FieldError Forbidden(string path, string detail)
        => new(Render(path), FieldErrorType.Forbidden, detail);

    public static FieldError Duplicate(string path, string badValue)
        => new(Render(path), FieldErrorType.Duplicate, "") { BadValue = badValue };

    private static string Render(string path) => path.Length == 0 ? FieldError.RootField : path;
}

/// <summary>Field paths as apimachinery's field.Path prints them: <c>spec.list[2].name</c>, <c>spec.map[key]</c>.</summary>
internal static class FieldPath
{
    public static string Child(string parent, string name) => parent.Length == 0 ? name : $"{parent}.{name}";

    public static string Index(string parent, int index) => $"{parent}[{index}]";

    public static string Key(string parent, string key) => $"{parent}[{key}]";
}
