// Final-answer extraction and comparison for math benchmarks (GSM8K, MATH-500) and rewards.
//
// Extraction
//   GSM8K: text after the last "####" (to the end of that line); else the text after the last
//          "final answer is"; else the last \boxed{...}.
//   MATH:  content of the last \boxed{...} / \fbox{...} (nested braces; "\boxed 5" too); else the
//          "final answer is" phrase; else "####".
// Normalisation
//   numbers: drops $, \$, thousands commas, spaces, %, \%, trailing units ("18 dollars"), a
//            trailing "."; a plain number is rewritten canonically (leading zeros, "5.0" -> "5").
//   LaTeX:   drops \left/\right, spacing (\! \, \; \: \quad), \displaystyle, ^\circ, %, $,
//            a trailing \text{unit}; unwraps \text{}, \mbox{}, \mathrm{}, \textbf{}, \mathbf{};
//            \dfrac/\tfrac -> \frac; \frac12 -> \frac{1}{2}; \sqrt2 -> \sqrt{2}; "x = 5" -> "5";
//            integer "a/b" -> \frac{a}{b}; removes all whitespace.
// Equivalence: equal normalised strings, or equal values when both sides evaluate to a number
// (numbers, \frac, \sqrt, \pi, ^, + - * /; relative tolerance 1e-6), or element-wise equality of
// tuples/intervals with the same brackets (in order) and of \{sets\} / bare lists "1, 2" (any order).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace wm::math {

enum class AnswerStyle { Gsm8k, Math };

std::optional<std::string> extract_last_boxed(std::string_view text);
std::optional<std::string> extract_after_hashes(std::string_view text);
std::optional<std::string> extract_final_answer_phrase(std::string_view text);
std::optional<std::string> extract_answer(std::string_view text, AnswerStyle style);

std::string normalize_number_answer(std::string_view answer);
std::string normalize_latex_answer(std::string_view answer);
std::string normalize_answer(std::string_view answer, AnswerStyle style);

// The value of a normalised answer that is a closed-form number, if it is one.
std::optional<double> evaluate_number(std::string_view normalized);

// Compares an extracted (not yet normalised) answer with the gold answer.
bool answers_equivalent(std::string_view predicted, std::string_view gold, AnswerStyle style);

// Extracts from a model completion and compares with gold (gold may itself be a full solution
// with "####" or \boxed{}, or a bare answer).
struct GradedAnswer {
  std::optional<std::string> extracted;  // raw extracted answer
  std::string normalized;                // normalised extracted answer ("" when none)
  std::string gold_normalized;
  bool correct = false;
};
GradedAnswer grade_completion(std::string_view completion, std::string_view gold, AnswerStyle style);

}  // namespace wm::math
