#include "app/completion.h"

#include <fmt/format.h>

#include <string_view>
#include <vector>

#include "config/limits.h"

namespace l4lb::app {

namespace {

// What follows an option or fills a positional.
enum class ValueKind { kNone, kWord, kFile, kChoice, kPool, kBackend };

struct Word {
  std::string text;
  std::string help;
  ValueKind value = ValueKind::kNone;  // options: what their value is
};

// One command of the tree, by its path ("", "run", "ctl", "ctl drain").
struct Command {
  std::string path;
  std::vector<Word> subcommands;
  std::vector<Word> options;
  std::vector<ValueKind> positionals;
};

std::string firstLine(std::string_view text) {
  std::string line(text.substr(0, text.find('\n')));
  if (line.size() > 70) line = line.substr(0, 67) + "...";
  return line;
}

ValueKind optionValue(const CLI::Option& option) {
  if (option.get_items_expected_max() == 0) return ValueKind::kNone;  // a flag
  for (const std::string& name : option.get_lnames()) {
    if (name == "config" || name.ends_with("-file")) return ValueKind::kFile;
    if (name == "balance") return ValueKind::kChoice;
  }
  return ValueKind::kWord;
}

ValueKind positionalValue(const CLI::Option& option) {
  const std::string name = option.get_name(true);
  if (name == "POOL") return ValueKind::kPool;
  if (name == "BACKEND") return ValueKind::kBackend;
  if (name == "SHELL") return ValueKind::kChoice;
  return ValueKind::kWord;
}

void collect(const CLI::App& app, const std::string& path, std::vector<Command>& out) {
  Command command;
  command.path = path;
  for (const CLI::Option* option : app.get_options()) {
    if (!option->nonpositional()) {
      command.positionals.push_back(positionalValue(*option));
      continue;
    }
    for (const std::string& name : option->get_lnames()) {
      command.options.push_back(
          {"--" + name, firstLine(option->get_description()), optionValue(*option)});
    }
    for (const std::string& name : option->get_snames()) {
      command.options.push_back(
          {"-" + name, firstLine(option->get_description()), optionValue(*option)});
    }
  }
  const auto subcommands = app.get_subcommands([](const CLI::App*) { return true; });
  for (const CLI::App* sub : subcommands) {
    command.subcommands.push_back({sub->get_name(), firstLine(sub->get_description())});
  }
  out.push_back(std::move(command));
  for (const CLI::App* sub : subcommands) {
    collect(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
  }
}

std::vector<Command> commandsOf(const CLI::App& app) {
  std::vector<Command> commands;
  collect(app, "", commands);
  return commands;
}

std::string joined(const std::vector<Word>& words) {
  std::string out;
  for (const Word& word : words) out += (out.empty() ? "" : " ") + word.text;
  return out;
}

std::string choices(const std::string& option) {
  std::string out;
  if (option == "SHELL") return "bash zsh";
  for (std::string_view name : config::algorithmNames()) {
    out += (out.empty() ? "" : " ") + std::string(name);
  }
  return out;
}

// Shell words are written in single quotes; a quote inside ends, escapes and reopens them.
std::string shellWord(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The "case" arm that maps (command path, word) to the next command path: shared by both shells.
std::string descendCases(const std::vector<Command>& commands) {
  std::string out;
  for (const Command& command : commands) {
    for (const Word& sub : command.subcommands) {
      const std::string next = command.path.empty() ? sub.text : command.path + " " + sub.text;
      out += fmt::format("      {}) cmd={}; pos=0; continue ;;\n",
                         shellWord(command.path + "/" + sub.text), shellWord(next));
    }
  }
  return out;
}

// Options that take a value: the word after one is its value, not a subcommand or positional.
std::string valueOptionPattern(const std::vector<Command>& commands) {
  std::string out;
  for (const Command& command : commands) {
    for (const Word& option : command.options) {
      if (option.value == ValueKind::kNone) continue;
      out += (out.empty() ? "" : "|") + shellWord(command.path + "/" + option.text);
    }
  }
  return out.empty() ? "''" : out;
}

std::string valueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kFile: return "file";
    case ValueKind::kChoice: return "choice";
    case ValueKind::kPool: return "pool";
    case ValueKind::kBackend: return "backend";
    case ValueKind::kWord:
    case ValueKind::kNone: break;
  }
  return "word";
}

// The kind of value each (path, option) and (path, positional index) wants.
std::string valueCases(const std::vector<Command>& commands) {
  std::string out;
  for (const Command& command : commands) {
    for (const Word& option : command.options) {
      if (option.value == ValueKind::kNone) continue;
      out += fmt::format("      {}) kind={}; choices={} ;;\n",
                         shellWord(command.path + "/" + option.text), valueKindName(option.value),
                         shellWord(option.value == ValueKind::kChoice ? choices(option.text) : ""));
    }
    for (std::size_t i = 0; i < command.positionals.size(); ++i) {
      out += fmt::format(
          "      {}) kind={}; choices={} ;;\n", shellWord(fmt::format("{}/#{}", command.path, i)),
          valueKindName(command.positionals[i]),
          shellWord(command.positionals[i] == ValueKind::kChoice ? choices("SHELL") : ""));
    }
  }
  return out;
}

// Walks the words before the cursor: the command path, how many positionals it has, and whether
// the word at the cursor is an option's value. Shared by both scripts (bash arrays start at 0,
// zsh's at 1: `first` and `last` are the shell's own indices).
std::string walker(const std::vector<Command>& commands) {
  return fmt::format(
      "  local cmd='' pos=0 i w kind='' choices='' pending=''\n"
      "  for ((i = first; i < last; i++)); do\n"
      "    w=${{words[i]}}\n"
      "    if [[ -n $pending ]]; then pending=''; continue; fi\n"
      "    case \"$cmd/$w\" in\n"
      "{}"
      "      {}) pending=1; continue ;;\n"
      "    esac\n"
      "    [[ $w == -* ]] || pos=$((pos + 1))\n"
      "  done\n"
      "  if [[ -n $pending ]]; then key=\"$cmd/${{words[last-1]}}\"; else key=\"$cmd/#$pos\"; fi\n"
      "  case $key in\n"
      "{}"
      "  esac\n"
      "  [[ -z $pending && $cur == -* ]] && kind=''\n",
      descendCases(commands), valueOptionPattern(commands), valueCases(commands));
}

// Per command path: its subcommands and options, for the word at the cursor.
std::string listCases(const std::vector<Command>& commands, bool with_help) {
  std::string out;
  for (const Command& command : commands) {
    if (with_help) {
      std::string subs;
      std::string opts;
      for (const Word& sub : command.subcommands) {
        subs += " " + shellWord(sub.text + ":" + sub.help);
      }
      for (const Word& option : command.options) {
        opts += " " + shellWord(option.text + ":" + option.help);
      }
      out += fmt::format("    {}) subs=({}); opts=({}) ;;\n", shellWord(command.path), subs, opts);
    } else {
      out +=
          fmt::format("    {}) subs={}; opts={} ;;\n", shellWord(command.path),
                      shellWord(joined(command.subcommands)), shellWord(joined(command.options)));
    }
  }
  return out;
}

// Asks the running l4lb for its pools, or one pool's backends (first column of ctl's tables);
// the ctl options typed so far (--socket, -c) say which l4lb.
constexpr std::string_view kNamesFunction =
    "_l4lb_names() {\n"
    "  local bin=$1 pool=$2\n"
    "  local -a ctl\n"
    "  shift 2\n"
    "  while (($#)); do\n"
    "    case $1 in\n"
    "      --socket|-c|--config|--token-file) (($# > 1)) && ctl+=(\"$1\" \"$2\"); shift ;;\n"
    "    esac\n"
    "    shift\n"
    "  done\n"
    "  if [[ -z $pool ]]; then\n"
    "    \"$bin\" ctl \"${ctl[@]}\" pools 2>/dev/null | awk 'NR > 1 { print $1 }'\n"
    "  else\n"
    "    \"$bin\" ctl \"${ctl[@]}\" pool \"$pool\" 2>/dev/null | awk 'NR > 2 { print $1 }'\n"
    "  fi\n"
    "}\n";

}  // namespace

std::string bashCompletion(const CLI::App& app) {
  const std::vector<Command> commands = commandsOf(app);
  return fmt::format(
      "# bash completion for l4lb, written by `l4lb completion bash` from its command line.\n"
      "{}"
      "_l4lb() {{\n"
      "  local words=(\"${{COMP_WORDS[@]}}\") first=1 last=$COMP_CWORD key subs opts\n"
      "  local cur=${{COMP_WORDS[COMP_CWORD]}}\n"
      "{}"
      "  case $kind in\n"
      "    file) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
      "    choice) COMPREPLY=($(compgen -W \"$choices\" -- \"$cur\")); return ;;\n"
      "    pool) COMPREPLY=($(compgen -W \"$(_l4lb_names \"${{words[0]}}\" '' "
      "\"${{words[@]:1:last-1}}\")\" -- \"$cur\")); return ;;\n"
      "    backend) COMPREPLY=($(compgen -W \"$(_l4lb_names \"${{words[0]}}\" "
      "\"${{words[last-1]}}\" \"${{words[@]:1:last-1}}\")\" -- \"$cur\")); return ;;\n"
      "    word) [[ -n $pending ]] && return ;;\n"
      "  esac\n"
      "  case $cmd in\n"
      "{}"
      "  esac\n"
      "  if [[ $cur == -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
      "  else\n"
      "    COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
      "  fi\n"
      "}}\n"
      "complete -F _l4lb l4lb\n",
      kNamesFunction, walker(commands), listCases(commands, false));
}

std::string zshCompletion(const CLI::App& app) {
  const std::vector<Command> commands = commandsOf(app);
  return fmt::format(
      "#compdef l4lb\n"
      "# zsh completion for l4lb, written by `l4lb completion zsh` from its command line.\n"
      "{}"
      "_l4lb() {{\n"
      "  local first=2 last=$CURRENT key cur=$PREFIX\n"
      "  local -a subs opts names\n"
      "{}"
      "  case $kind in\n"
      "    file) _files; return ;;\n"
      "    choice) names=(${{=choices}}); compadd -a names; return ;;\n"
      "    pool) names=(${{(f)\"$(_l4lb_names \"${{words[1]}}\" '' "
      "\"${{(@)words[2,last-1]}}\")\"}}); compadd -a names; return ;;\n"
      "    backend) names=(${{(f)\"$(_l4lb_names \"${{words[1]}}\" \"${{words[last-1]}}\" "
      "\"${{(@)words[2,last-1]}}\")\"}}); compadd -a names; return ;;\n"
      "    word) [[ -n $pending ]] && return ;;\n"
      "  esac\n"
      "  case $cmd in\n"
      "{}"
      "  esac\n"
      "  if [[ $cur == -* ]]; then\n"
      "    _describe -t options 'option' opts\n"
      "  else\n"
      "    _describe -t commands 'command' subs\n"
      "  fi\n"
      "}}\n"
      "_l4lb \"$@\"\n",
      kNamesFunction, walker(commands), listCases(commands, true));
}

}  // namespace l4lb::app
