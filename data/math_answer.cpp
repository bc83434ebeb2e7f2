#include "data/math_answer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>
#include <vector>

namespace wm::math {
namespace {

constexpr std::string_view kSpaces = " \t\r\n";

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(kSpaces);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(kSpaces);
  return std::string(s.substr(b, e - b + 1));
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Index of the '}' matching the '{' at `open`, or npos.
size_t matching_brace(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;  // escaped brace \{ \} is text, not grouping
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

// Removes the control word `cmd` (e.g. "\\left") where it is not the prefix of a longer word.
void remove_command(std::string& s, std::string_view cmd) {
  for (size_t pos = s.find(cmd); pos != std::string::npos; pos = s.find(cmd, pos)) {
    const size_t end = pos + cmd.size();
    if (end < s.size() && is_alpha(s[end])) {
      pos = end;
      continue;
    }
    s.erase(pos, cmd.size());
  }
}

// "\cmd{X}" -> "X" everywhere.
void unwrap_command(std::string& s, std::string_view cmd) {
  const std::string open = std::string(cmd) + "{";
  for (size_t pos = s.find(open); pos != std::string::npos; pos = s.find(open, pos)) {
    const size_t brace = pos + cmd.size();
    const size_t close = matching_brace(s, brace);
    if (close == std::string::npos) return;
    s.erase(close, 1);
    s.erase(pos, open.size());
  }
}

// Plain decimal number: [+-]? digits [. digits] | [+-]? . digits, nothing else.
bool is_plain_number(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  }
  return digits > 0 && i == s.size();
}

std::string format_number(double v) {
  if (v == 0) return "0";
  char buf[64];
  if (std::fabs(v) < 1e15 && v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.12g", v);
  }
  return buf;
}

// "007" -> "7", "5.0" -> "5", "2.50" -> "2.5", "-0" -> "0"; keeps non-numbers as they are.
std::string canonical_number(const std::string& s) {
  if (!is_plain_number(s)) return s;
  return format_number(std::strtod(s.c_str(), nullptr));
}

// 1,234,567(.89) with well-formed groups of three.
bool has_thousands_commas(std::string_view s) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  size_t lead = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++lead;
  if (lead == 0 || lead > 3 || i >= s.size() || s[i] != ',') return false;
  while (i < s.size() && s[i] == ',') {
    ++i;
    for (int k = 0; k < 3; ++k, ++i)
      if (i >= s.size() || !is_digit(s[i])) return false;
  }
  if (i == s.size()) return true;
  if (s[i] != '.') return false;
  ++i;
  while (i < s.size() && is_digit(s[i])) ++i;
  return i == s.size();
}

std::string unwrap_whole_boxed(std::string s) {
  if (auto inner = extract_last_boxed(s)) {
    const std::string t = trim(s);
    if ((t.rfind("\\boxed", 0) == 0 || t.rfind("\\fbox", 0) == 0) && t.back() == '}') return *inner;
  }
  return s;
}

// "\frac12" -> "\frac{1}{2}", "\frac1{2}" / "\frac{1}2" likewise; "\sqrt2" -> "\sqrt{2}".
std::string brace_single_char_arguments(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const bool frac = s.compare(i, 5, "\\frac") == 0 && !(i + 5 < s.size() && is_alpha(s[i + 5]));
    const bool sqrt = s.compare(i, 5, "\\sqrt") == 0 && !(i + 5 < s.size() && is_alpha(s[i + 5]));
    if (!frac && !sqrt) {
      out += s[i++];
      continue;
    }
    out += s.substr(i, 5);
    i += 5;
    for (int arg = 0; arg < (frac ? 2 : 1) && i < s.size(); ++arg) {
      if (s[i] == '{') {
        const size_t close = matching_brace(s, i);
        if (close == std::string::npos) break;
        out += s.substr(i, close - i + 1);
        i = close + 1;
      } else if (s[i] == '\\' || s[i] == '[') {
        break;  // a command or \sqrt[n]: leave as is
      } else {
        out += '{';
        out += s[i++];
        out += '}';
      }
    }
  }
  return out;
}

// Splits on commas at bracket depth 0.
std::vector<std::string> split_top_level(std::string_view s) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      parts.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.emplace_back(s.substr(start));
  return parts;
}

// ---- a small evaluator for closed-form numbers in LaTeX-ish syntax
class NumberParser {
 public:
  explicit NumberParser(std::string_view s) : s_(s) {}
  std::optional<double> parse() {
    auto v = expr();
    if (!v || pos_ != s_.size() || !std::isfinite(*v)) return std::nullopt;
    return v;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;

  bool eat(std::string_view tok) {
    if (s_.compare(pos_, tok.size(), tok) != 0) return false;
    if (tok.size() > 1 && tok[0] == '\\' && pos_ + tok.size() < s_.size() && is_alpha(s_[pos_ + tok.size()]))
      return false;
    pos_ += tok.size();
    return true;
  }
  bool at_end() const { return pos_ >= s_.size(); }

  std::optional<double> expr() {
    auto v = term();
    while (v && !at_end()) {
      if (eat("+")) {
        auto r = term();
        if (!r) return std::nullopt;
        *v += *r;
      } else if (eat("-")) {
        auto r = term();
        if (!r) return std::nullopt;
        *v -= *r;
      } else {
        break;
      }
    }
    return v;
  }
  std::optional<double> term() {
    auto v = unary();
    while (v && !at_end()) {
      if (eat("*") || eat("\\cdot") || eat("\\times")) {
        auto r = unary();
        if (!r) return std::nullopt;
        *v *= *r;
      } else if (eat("/") || eat("\\div")) {
        auto r = unary();
        if (!r || *r == 0) return std::nullopt;
        *v /= *r;
      } else if (starts_factor()) {  // implicit product: 2\sqrt{3}, 3\pi
        auto r = unary();
        if (!r) return std::nullopt;
        *v *= *r;
      } else {
        break;
      }
    }
    return v;
  }
  bool starts_factor() const {
    if (at_end()) return false;
    const char c = s_[pos_];
    return c == '\\' || c == '(' || c == '{';
  }
  std::optional<double> power() {
    auto v = atom();
    if (v && eat("^")) {
      auto e = unary();
      if (!e) return std::nullopt;
      return std::pow(*v, *e);
    }
    return v;
  }
  std::optional<double> unary() {
    if (eat("-")) {
      auto v = unary();
      return v ? std::optional<double>(-*v) : std::nullopt;
    }
    if (eat("+")) return unary();
    return power();
  }
  std::optional<double> group() {
    if (!eat("{")) return std::nullopt;
    auto v = expr();
    if (!v || !eat("}")) return std::nullopt;
    return v;
  }
  std::optional<double> atom() {
    if (at_end()) return std::nullopt;
    if (s_[pos_] == '{') return group();
    if (eat("(")) {
      auto v = expr();
      if (!v || !eat(")")) return std::nullopt;
      return v;
    }
    if (eat("\\frac")) {
      auto a = group();
      auto b = a ? group() : std::nullopt;
      if (!b || *b == 0) return std::nullopt;
      return *a / *b;
    }
    if (eat("\\sqrt")) {
      auto a = group();
      if (!a || *a < 0) return std::nullopt;
      return std::sqrt(*a);
    }
    if (eat("\\pi")) return std::numbers::pi;
    const size_t start = pos_;
    while (!at_end() && (is_digit(s_[pos_]) || s_[pos_] == '.')) ++pos_;
    if (pos_ == start) return std::nullopt;
    const std::string num(s_.substr(start, pos_ - start));
    if (!is_plain_number(num)) return std::nullopt;
    return std::strtod(num.c_str(), nullptr);
  }
};

bool numbers_close(double a, double b) {
  return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::max(std::fabs(a), std::fabs(b)));
}

bool normalized_equivalent(const std::string& a, const std::string& b, int depth = 0) {
  if (a == b) return true;
  const auto va = evaluate_number(a), vb = evaluate_number(b);
  if (va && vb) return numbers_close(*va, *vb);
  if (depth > 0 || a.size() < 2 || b.size() < 2) return false;
  // \{a,b\} sets and bare lists "1,2" (solutions) compare unordered; ( ) [ ] tuples/intervals in order
  const auto is_set = [](const std::string& x) {
    return x.size() >= 4 && x.rfind("\\{", 0) == 0 && x.compare(x.size() - 2, 2, "\\}") == 0;
  };
  const bool bracketed = std::string_view("([").find(a.front()) != std::string::npos &&
                         std::string_view(")]").find(a.back()) != std::string::npos;
  std::string_view ia = a, ib = b;
  bool ordered = true;
  if (is_set(a) || is_set(b)) {
    if (!is_set(a) || !is_set(b)) return false;
    ia = ia.substr(2, ia.size() - 4);
    ib = ib.substr(2, ib.size() - 4);
    ordered = false;
  } else if (bracketed) {
    if (a.front() != b.front() || a.back() != b.back()) return false;
    ia = ia.substr(1, ia.size() - 2);
    ib = ib.substr(1, ib.size() - 2);
  } else {
    ordered = false;
  }
  const auto pa = split_top_level(ia), pb = split_top_level(ib);
  if (pa.size() != pb.size() || (pa.size() < 2 && !is_set(a))) return false;
  if (ordered) {
    for (size_t i = 0; i < pa.size(); ++i)
      if (!normalized_equivalent(pa[i], pb[i], depth + 1)) return false;
    return true;
  }
  std::vector<bool> used(pb.size(), false);
  for (const auto& x : pa) {
    bool matched = false;
    for (size_t j = 0; j < pb.size() && !matched; ++j)
      if (!used[j] && normalized_equivalent(x, pb[j], depth + 1)) used[j] = matched = true;
    if (!matched) return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------- extraction

std::optional<std::string> extract_last_boxed(std::string_view text) {
  size_t search_end = text.size();
  while (true) {
    const size_t b = text.rfind("\\boxed", search_end);
    const size_t f = text.rfind("\\fbox", search_end);
    size_t pos = std::string_view::npos;
    size_t len = 0;
    if (b != std::string_view::npos) pos = b, len = 6;
    if (f != std::string_view::npos && (pos == std::string_view::npos || f > pos)) pos = f, len = 5;
    if (pos == std::string_view::npos) return std::nullopt;
    size_t i = pos + len;
    if (i < text.size() && text[i] == '{') {
      const size_t close = matching_brace(text, i);
      if (close != std::string_view::npos) return trim(text.substr(i + 1, close - i - 1));
    } else if (i < text.size() && text[i] == ' ') {  // "\boxed 5"
      const size_t start = i + 1;
      size_t end = start;
      while (end < text.size() && text[end] != '$' && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
      if (end > start) return std::string(text.substr(start, end - start));
    }
    if (pos == 0) return std::nullopt;
    search_end = pos - 1;  // unbalanced (truncated) box: try the previous one
  }
}

std::optional<std::string> extract_after_hashes(std::string_view text) {
  const size_t pos = text.rfind("####");
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(pos + 4);
  rest = rest.substr(0, rest.find('\n'));
  std::string out = trim(rest);
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> extract_final_answer_phrase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t best = std::string::npos, skip = 0;
  for (std::string_view phrase : {"final answer is", "final answer:"}) {
    const size_t p = lower.rfind(phrase);
    if (p != std::string::npos && (best == std::string::npos || p > best)) best = p, skip = phrase.size();
  }
  if (best == std::string::npos) return std::nullopt;
  std::string_view rest = text.substr(best + skip);
  rest = rest.substr(0, rest.find('\n'));
  std::string out = trim(rest);
  if (!out.empty() && out.front() == ':') out = trim(std::string_view(out).substr(1));
  if (auto boxed = extract_last_boxed(out)) return boxed;
  while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
  // "$5$." -> "5"
  if (out.size() >= 2 && out.front() == '$' && out.back() == '$') out = trim(std::string_view(out).substr(1, out.size() - 2));
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> extract_answer(std::string_view text, AnswerStyle style) {
  if (style == AnswerStyle::Gsm8k) {
    if (auto a = extract_after_hashes(text)) return a;
    if (auto a = extract_final_answer_phrase(text)) return a;
    return extract_last_boxed(text);
  }
  if (auto a = extract_last_boxed(text)) return a;
  if (auto a = extract_final_answer_phrase(text)) return a;
  return extract_after_hashes(text);
}

// ---------------------------------------------------------------- normalisation

std::string normalize_number_answer(std::string_view answer) {
  std::string s = unwrap_whole_boxed(trim(answer));
  replace_all(s, "\xE2\x88\x92", "-");  // U+2212 minus sign
  for (std::string_view cmd : {"\\text", "\\textbf", "\\mathrm", "\\mbox"}) unwrap_command(s, cmd);
  for (std::string_view junk : {"\\$", "$", "\\%", "%", "\\!", "\\,"}) replace_all(s, junk, "");
  // thousands separators: a comma between digits
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ',' && i > 0 && i + 1 < s.size() && is_digit(s[i - 1]) && is_digit(s[i + 1])) continue;
    t += s[i];
  }
  s = trim(t);
  while (!s.empty() && s.back() == '.') s.pop_back();
  std::string compact;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  if (is_plain_number(compact)) return canonical_number(compact);
  // first number in the text, e.g. "18 dollars" -> "18", "3/4 cup" -> "3/4"
  for (size_t i = 0; i < s.size(); ++i) {
    const bool sign = (s[i] == '-' && i + 1 < s.size() && (is_digit(s[i + 1]) || s[i + 1] == '.'));
    if (!is_digit(s[i]) && !sign && !(s[i] == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) continue;
    size_t j = i + (sign ? 1 : 0);
    while (j < s.size() && (is_digit(s[j]) || s[j] == '.')) ++j;
    std::string num = s.substr(i, j - i);
    while (!num.empty() && num.back() == '.') num.pop_back();
    if (j + 1 < s.size() && s[j] == '/' && is_digit(s[j + 1])) {
      size_t k = j + 1;
      while (k < s.size() && is_digit(s[k])) ++k;
      return canonical_number(num) + "/" + s.substr(j + 1, k - j - 1);
    }
    return canonical_number(num);
  }
  return compact;
}

std::string normalize_latex_answer(std::string_view answer) {
  std::string s = unwrap_whole_boxed(trim(answer));
  replace_all(s, "\xE2\x88\x92", "-");  // U+2212 minus sign
  replace_all(s, "\n", "");
  replace_all(s, "\\\\", "\\");
  for (std::string_view f : {"\\tfrac", "\\dfrac", "\\cfrac"}) replace_all(s, f, "\\frac");
  remove_command(s, "\\left");
  remove_command(s, "\\right");
  remove_command(s, "\\displaystyle");
  for (std::string_view deg : {"^{\\circ}", "^\\circ", "\xC2\xB0", "\\degree"}) replace_all(s, deg, "");
  for (std::string_view junk : {"\\$", "$", "\\%", "%", "\\!", "\\,", "\\;", "\\:", "\\ ", "~"})
    replace_all(s, junk, "");
  remove_command(s, "\\qquad");
  remove_command(s, "\\quad");
  s = trim(s);
  // a trailing \text{unit} after a number, e.g. "10\text{ inches}"
  for (std::string_view cmd : {"\\text{", "\\mbox{", "\\mathrm{"}) {
    const size_t pos = s.rfind(cmd);
    if (pos == std::string::npos || pos == 0) continue;
    const size_t close = matching_brace(s, pos + cmd.size() - 1);
    const std::string before = trim(std::string_view(s).substr(0, pos));
    if (close == s.size() - 1 && !before.empty() && is_digit(before.back())) s = before;
  }
  for (std::string_view cmd : {"\\text", "\\textbf", "\\textit", "\\mbox", "\\mathrm", "\\mathbf", "\\boxed"})
    unwrap_command(s, cmd);
  std::string compact;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  s = compact;
  replace_all(s, "{,}", "");
  // "x=5" / "k = 3" -> right-hand side when the left is one short variable
  if (const size_t eq = s.find('='); eq != std::string::npos && s.find('=', eq + 1) == std::string::npos) {
    const std::string lhs = s.substr(0, eq);
    if (!lhs.empty() && lhs.size() <= 2 && std::all_of(lhs.begin(), lhs.end(), [](char c) { return is_alpha(c); }))
      s = s.substr(eq + 1);
  }
  s = brace_single_char_arguments(s);
  while (!s.empty() && s.back() == '.') s.pop_back();
  if (has_thousands_commas(s)) replace_all(s, ",", "");
  if (s.rfind(".", 0) == 0) s = "0" + s;
  if (s.rfind("-.", 0) == 0) s = "-0" + s.substr(1);
  // integer "a/b" -> \frac{a}{b}
  if (const size_t slash = s.find('/'); slash != std::string::npos && slash > 0) {
    const std::string a = s.substr(0, slash), b = s.substr(slash + 1);
    auto all_digits = [](const std::string& x, bool sign_ok) {
      size_t i = (sign_ok && !x.empty() && x[0] == '-') ? 1 : 0;
      return x.size() > i && std::all_of(x.begin() + i, x.end(), [](char c) { return is_digit(c); });
    };
    if (all_digits(a, true) && all_digits(b, false))
      s = (a[0] == '-' ? "-\\frac{" + a.substr(1) : "\\frac{" + a) + "}{" + b + "}";
  }
  return canonical_number(s);
}

std::string normalize_answer(std::string_view answer, AnswerStyle style) {
  return style == AnswerStyle::Gsm8k ? normalize_number_answer(answer) : normalize_latex_answer(answer);
}

std::optional<double> evaluate_number(std::string_view normalized) {
  if (normalized.empty()) return std::nullopt;
  return NumberParser(normalized).parse();
}

bool answers_equivalent(std::string_view predicted, std::string_view gold, AnswerStyle style) {
  const std::string p = normalize_answer(predicted, style), g = normalize_answer(gold, style);
  if (p.empty() || g.empty()) return false;
  if (normalized_equivalent(p, g)) return true;
  // A number written in LaTeX in a GSM8K answer (or vice versa) still counts.
  if (style == AnswerStyle::Gsm8k) {
    const std::string pl = normalize_latex_answer(predicted), gl = normalize_latex_answer(gold);
    return !pl.empty() && normalized_equivalent(pl, gl);
  }
  return false;
}

GradedAnswer grade_completion(std::string_view completion, std::string_view gold, AnswerStyle style) {
  GradedAnswer g;
  // gold may be a whole solution ("... #### 72" or "... \boxed{72}") or a bare answer
  std::string gold_answer(gold);
  const bool gold_is_solution = gold.find("####") != std::string_view::npos ||
                                gold.find("\\boxed") != std::string_view::npos;
  if (gold_is_solution)
    if (auto a = extract_answer(gold, style)) gold_answer = *a;
  g.gold_normalized = normalize_answer(gold_answer, style);
  g.extracted = extract_answer(completion, style);
  if (!g.extracted) return g;
  g.normalized = normalize_answer(*g.extracted, style);
  g.correct = answers_equivalent(*g.extracted, gold_answer, style);
  return g;
}

}  // namespace wm::math
