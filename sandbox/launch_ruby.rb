# frozen_string_literal: true

# The preload of every Ruby run (`ruby -r launch_ruby.rb prog.rb`).
#
# It counts work with a TracePoint (method and block entries and lines run:
# deterministic), reports reflection (RubyVM's instruction sequences and syntax
# trees, text after __END__ read as DATA, ObjectSpace walks) and any reach for
# the counter (TracePoint, set_trace_func), and writes the keyed records of the
# audit protocol on fd 3: `E name args` per event, `T why` per tampering found,
# one final `F key work records` at exit. Its state lives in this lambda's
# locals; what a candidate can still do to it is evidence, never the wall (the
# supervisor measures CPU time and file opens from outside).
lambda do
  key_io = IO.new(4, "r", autoclose: true)
  key = key_io.read.to_s.strip
  key_io.close
  meta = IO.new(3, "w", autoclose: false)
  meta.sync = true
  records = 0
  work = 0
  hex = ->(text) { text.to_s[0, 500].b.unpack1("H*") }
  # Taken now: a candidate that redefines IO#write later cannot rewrite the records.
  io_write = IO.instance_method(:write)
  write = lambda do |line|
    io_write.bind_call(meta, "#{line}\n")
  rescue StandardError
    nil # fd 3 cannot be closed or replaced (the seccomp filter); a failed write shows as a missing record
  end
  event = lambda do |name, args|
    records += 1
    write.call("E #{hex.call(name)} #{hex.call(args)}")
  end
  tamper = lambda do |why|
    records += 1
    write.call("T #{hex.call(why)}")
  end

  looked = false
  counter = TracePoint.new(:line, :call, :b_call) do |point|
    work += 1
    next if looked || point.path != $PROGRAM_NAME

    looked = true
    event.call("reflection.DATA", "text after __END__") if Object.const_defined?(:DATA)
  end
  counter.enable
  enabled = TracePoint.instance_method(:enabled?)
  disable = TracePoint.instance_method(:disable)

  watch = lambda do |target, names, kind|
    hook = Module.new do
      names.each do |name|
        define_method(name) do |*args, **options, &block|
          label = "#{target.inspect.delete_prefix('#<Class:').delete_suffix('>')}.#{name}"
          kind == :tamper ? tamper.call("called #{label}") : event.call("#{kind}.#{label}", "")
          super(*args, **options, &block)
        end
      end
    end
    target.prepend(hook)
  end
  watch.call(RubyVM::InstructionSequence.singleton_class, %i[of compile_file load_from_binary disasm], :reflection)
  watch.call(RubyVM::InstructionSequence, %i[disasm to_a script_lines to_binary], :reflection)
  watch.call(RubyVM::AbstractSyntaxTree.singleton_class, %i[of parse_file], :reflection)
  watch.call(RubyVM.singleton_class, %i[keep_script_lines=], :reflection)
  watch.call(ObjectSpace.singleton_class, %i[each_object], :gc)
  watch.call(TracePoint.singleton_class, %i[new trace stat], :tamper)
  watch.call(TracePoint, %i[disable enable], :tamper)
  watch.call(Kernel, %i[set_trace_func], :tamper)

  at_exit do
    if enabled.bind_call(counter)
      disable.bind_call(counter)
    else
      tamper.call("the work counter was switched off")
    end
    write.call("F #{key} #{work} #{records}")
  end
end.call
